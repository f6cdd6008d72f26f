//! What a run's networks are at one moment, as plain values: each network's parameters and
//! Adam moments for K members, and the Adam's step count. Engines export and import it, the
//! loop splits it into members and a resume stacks members into it, storage saves and loads
//! it; none of them needs another's types to do so.

use anyhow::{Result, bail};
use tch::{Device, Kind, Tensor};

use crate::config::{LayerSpec, ModelConfig};

/// One of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Generator,
    Discriminator,
}

impl Net {
    pub const BOTH: [Net; 2] = [Net::Generator, Net::Discriminator];

    /// Its name in a checkpoint: the prefix of its optimiser's variables (`generator.m`, …).
    pub fn name(self) -> &'static str {
        match self {
            Net::Generator => "generator",
            Net::Discriminator => "discriminator",
        }
    }

    /// Its layers in `model`.
    pub fn layers(self, model: &ModelConfig) -> Vec<LayerSpec> {
        match self {
            Net::Generator => model.generator_layers(),
            Net::Discriminator => model.discriminator_layers(),
        }
    }
}

/// One network of K runs: parameters and Adam moments, `[K, n]` each in the flat layout of
/// [`crate::config::variables`], and the Adam's updates so far (Keras' `iterations`), which
/// the runs of one ensemble share.
#[derive(Debug)]
pub struct NetState {
    /// The network as it computes: under spectral normalisation, its normalised weights.
    pub params: Tensor,
    /// First-moment estimate (of the trained parameters: `spectral.raw`'s when present).
    pub m: Tensor,
    /// Second-moment estimate.
    pub v: Tensor,
    pub steps: u64,
    /// A spectrally normalised network's trained parameters and power-iteration vectors.
    pub spectral: Option<Spectral>,
}

/// What spectral normalisation adds to a network's state: the parameters Adam trains, whose
/// weight matrices `params` holds divided by their largest singular value, and each layer's
/// left singular vector estimate `u`, one after another (`[K, Σ outputs]`).
#[derive(Debug)]
pub struct Spectral {
    pub raw: Tensor,
    pub u: Tensor,
}

impl Spectral {
    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Spectral {
        Spectral { raw: f(&self.raw), u: f(&self.u) }
    }
}

impl NetState {
    /// A network that has not been updated: `params` with zero moments.
    pub fn fresh(params: Tensor) -> Self {
        NetState { m: params.zeros_like(), v: params.zeros_like(), params, steps: 0, spectral: None }
    }

    /// K, the number of runs.
    pub fn members(&self) -> i64 {
        self.params.size()[0]
    }

    /// Every `[K, …]` tensor of the state mapped by `f`, the steps kept.
    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> NetState {
        NetState {
            params: f(&self.params),
            m: f(&self.m),
            v: f(&self.v),
            steps: self.steps,
            spectral: self.spectral.as_ref().map(|s| s.map(&f)),
        }
    }

    /// Run `k`'s state, `[1, n]` each (copies).
    pub fn member(&self, k: i64) -> NetState {
        self.map(|t| t.narrow(0, k, 1).copy())
    }

    /// The runs of `states`, in order, as one state; `steps` is the step count they share.
    pub fn stack(states: &[&NetState], steps: u64) -> NetState {
        let cat = |part: &dyn Fn(&NetState) -> &Tensor| {
            Tensor::cat(&states.iter().map(|s| part(s)).collect::<Vec<_>>(), 0)
        };
        let spectral = states.iter().all(|s| s.spectral.is_some()).then(|| Spectral {
            raw: cat(&|s| &s.spectral.as_ref().expect("checked").raw),
            u: cat(&|s| &s.spectral.as_ref().expect("checked").u),
        });
        NetState { params: cat(&|s| &s.params), m: cat(&|s| &s.m), v: cat(&|s| &s.v), steps, spectral }
    }

    pub fn to_device(&self, device: Device) -> NetState {
        self.map(|t| t.to_device(device))
    }

    /// Checks that the state fits `net` with `n` parameters per run and `k` runs.
    pub fn check(&self, net: Net, k: i64, n: i64) -> Result<()> {
        for (name, t) in [("parameters", &self.params), ("m", &self.m), ("v", &self.v)] {
            if t.size() != [k, n] || t.kind() != Kind::Float {
                bail!(
                    "the {} {name}: expected float32 [{k}, {n}], found {:?} {:?}",
                    net.name(),
                    t.kind(),
                    t.size()
                );
            }
        }
        Ok(())
    }
}
