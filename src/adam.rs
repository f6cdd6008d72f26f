//! Adam as Keras defines it, over one flat parameter tensor, with state that can be saved.
//!
//! Two reasons not to use tch's `nn::Adam`: Keras adds ε to √v *before* bias correction
//! (`p -= α·m / (√v + ε)` with `α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)`) where libtorch adds it after, and
//! tch cannot save an optimiser's state, which exact resumption needs. Working on a network's
//! flat parameters makes a whole update seven libtorch calls, none of which allocates.

use tch::{Kind, Tensor};

use crate::config::AdamConfig;

/// The constants of one Adam update on the host, the same for every member and parameter,
/// and the update of one parameter: what the native engine applies, one scalar function.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    epsilon: f32,
    /// `−lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)`: Keras' step size at update `t`, negated.
    neg_alpha: f32,
}

impl AdamStep {
    /// The constants of update `t` (1 for the first) by `cfg`, computed in float64 with `libm`
    /// (the same bits on every CPU), then rounded to float32.
    pub fn new(cfg: AdamConfig, t: u64) -> AdamStep {
        let t = t as f64;
        let alpha =
            cfg.learning_rate * (1.0 - libm::pow(cfg.beta2, t)).sqrt() / (1.0 - libm::pow(cfg.beta1, t));
        AdamStep {
            one_minus_beta1: (1.0 - cfg.beta1) as f32,
            one_minus_beta2: (1.0 - cfg.beta2) as f32,
            epsilon: cfg.epsilon as f32,
            neg_alpha: -alpha as f32,
        }
    }

    /// Keras' update of one parameter `p` with moments `m`, `v` from its gradient `g`:
    /// `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`, `p += −α·m / (√v + ε)`, each operation
    /// rounded to float32 in this order (no fused multiply-add).
    #[inline(always)]
    pub fn update(&self, p: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        *m += self.one_minus_beta1 * (g - *m);
        *v += self.one_minus_beta2 * (g * g - *v);
        *p += (self.neg_alpha * *m) / (v.sqrt() + self.epsilon);
    }
}

/// The moments and step count of one Adam, sized for one network's flat parameters.
#[derive(Debug)]
pub struct Adam {
    cfg: AdamConfig,
    /// First-moment estimate `m`, `[n]`.
    m: Tensor,
    /// Second-moment estimate `v`, `[n]`.
    v: Tensor,
    /// Updates taken so far (Keras' `iterations`).
    steps: u64,
    /// Scratch buffers for g², √v + ε and −α·m, kept to avoid allocating in every update.
    grad_sq: Tensor,
    denom: Tensor,
    update: Tensor,
}

impl Adam {
    /// A fresh optimiser (zero moments, zero steps) for parameters shaped like `params`.
    pub fn new(params: &Tensor, cfg: AdamConfig) -> Self {
        let zeros = || params.zeros_like();
        Adam { cfg, m: zeros(), v: zeros(), steps: 0, grad_sq: zeros(), denom: zeros(), update: zeros() }
    }

    /// The step size of the updates from now on.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.cfg.learning_rate = learning_rate;
    }

    /// One update of `params` (in place) from `grads`, both `[n]`.
    pub fn step(&mut self, params: &Tensor, grads: &Tensor) {
        let AdamConfig { learning_rate, beta1, beta2, epsilon } = self.cfg;
        self.steps += 1;
        let t = self.steps as f64;
        // Keras' form of the moment updates: m += (g − m)(1 − β₁), v += (g² − v)(1 − β₂).
        let _ = self.m.lerp_(grads, 1.0 - beta1);
        let _ = grads.mul_out(&self.grad_sq, grads);
        let _ = self.v.lerp_(&self.grad_sq, 1.0 - beta2);
        let _ = self.v.sqrt_out(&self.denom);
        let _ = self.denom.g_add_scalar_(epsilon);
        let alpha = learning_rate * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
        let _ = self.m.mul_scalar_out(&self.update, -alpha);
        let _ = params.shallow_clone().addcdiv_(&self.update, &self.denom);
    }

    /// The state to save: `(name, tensor)` pairs for `m` and `v`, and the step count.
    pub fn state(&self) -> (Vec<(&'static str, &Tensor)>, u64) {
        (vec![("m", &self.m), ("v", &self.v)], self.steps)
    }

    /// Restores a state saved by [`Adam::state`]. `m` and `v` must have the parameters' shape.
    pub fn restore(&mut self, m: &Tensor, v: &Tensor, steps: u64) -> anyhow::Result<()> {
        for (name, saved, own) in [("m", m, &self.m), ("v", v, &self.v)] {
            if saved.size() != own.size() || saved.kind() != Kind::Float {
                anyhow::bail!(
                    "optimiser moment {name}: expected float32 {:?}, found {:?} {:?}",
                    own.size(),
                    saved.kind(),
                    saved.size()
                );
            }
        }
        self.m.copy_(m);
        self.v.copy_(v);
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// Keras' update written out in f64 for one scalar parameter.
    fn keras_reference(mut p: f64, grads: &[f64], cfg: AdamConfig) -> f64 {
        let (mut m, mut v) = (0.0, 0.0);
        for (i, g) in grads.iter().enumerate() {
            let t = (i + 1) as f64;
            m += (g - m) * (1.0 - cfg.beta1);
            v += (g * g - v) * (1.0 - cfg.beta2);
            let alpha = cfg.learning_rate * (1.0 - cfg.beta2.powf(t)).sqrt() / (1.0 - cfg.beta1.powf(t));
            p -= alpha * m / (v.sqrt() + cfg.epsilon);
        }
        p
    }

    #[test]
    fn matches_a_hand_computed_keras_step() {
        let cfg = AdamConfig::default();
        let start = [0.5f32, -1.0, 2.0, 0.0];
        let grads = [[0.1f32, -0.2, 3e-7, 0.0], [0.3, 0.1, -1e-6, 0.0], [-0.05, 0.4, 2e-6, 0.0]];
        let params = Tensor::from_slice(&start);
        let mut adam = Adam::new(&params, cfg);
        for g in &grads {
            adam.step(&params, &Tensor::from_slice(g));
        }
        assert_eq!(adam.state().1, 3);
        let got: Vec<f32> = Vec::try_from(&params).unwrap();
        for i in 0..start.len() {
            let gs: Vec<f64> = grads.iter().map(|g| g[i] as f64).collect();
            let expected = keras_reference(start[i] as f64, &gs, cfg);
            assert!((got[i] as f64 - expected).abs() < 1e-6, "param {i}: {} vs {expected}", got[i]);
        }
    }

    #[test]
    fn epsilon_sits_before_bias_correction() {
        // With a tiny gradient the two placements of ε differ clearly: Keras' first step is
        // lr·√(1−β₂)/(1−β₁) · g/(|g|+ε); PyTorch's would be lr · g/(|g| + ε) with ε after.
        let cfg = AdamConfig::default();
        let g = 1e-7f64;
        let params = Tensor::from_slice(&[0.0f32]);
        let mut adam = Adam::new(&params, cfg);
        adam.step(&params, &Tensor::from_slice(&[g as f32]));
        let keras = -cfg.learning_rate * (1.0 - cfg.beta2).sqrt() / (1.0 - cfg.beta1) * (1.0 - cfg.beta1) * g
            / ((1.0 - cfg.beta2).sqrt() * g + cfg.epsilon);
        let pytorch = -cfg.learning_rate * g / (g + cfg.epsilon);
        let got = params.double_value(&[0]);
        assert!((got - keras).abs() < 1e-9, "{got} vs keras {keras}");
        assert!((got - pytorch).abs() > 1e-5, "{got} is PyTorch's {pytorch}");
    }

    #[test]
    fn restored_state_continues_identically() {
        let params_a = Tensor::from_slice(&[1.0f32, 2.0]);
        let params_b = params_a.copy();
        let grads = Tensor::from_slice(&[0.3f32, -0.7]);
        let mut a = Adam::new(&params_a, AdamConfig::default());
        a.step(&params_a, &grads);
        params_b.shallow_clone().copy_(&params_a);
        let (state, steps) = a.state();
        let mut b = Adam::new(&params_b, AdamConfig::default());
        b.restore(state[0].1, state[1].1, steps).unwrap();
        a.step(&params_a, &grads);
        b.step(&params_b, &grads);
        assert!(params_a.equal(&params_b));
        let wrong = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        assert!(b.restore(&wrong, &wrong, 1).is_err());
    }
}
