//! The parameter layout every part of gan1d shares: a network as layers ([`LayerSpec`]), its
//! variables in one flat row ([`variables`]), and how each layer's weights start ([`Init`]).

use crate::activation::Activation;

/// How a layer's weights start, as Keras names them. Biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// `U(±√(6 / fan_in))`: the tutorial's `kernel_initializer='he_uniform'`.
    HeUniform,
    /// `U(±√(6 / (fan_in + fan_out)))`: Keras' default, which the output layers get because
    /// the tutorial names no initialiser for them.
    GlorotUniform,
}

impl Init {
    /// Half-width of the uniform interval for a layer `fan_in → fan_out`.
    pub fn limit(self, fan_in: i64, fan_out: i64) -> f64 {
        match self {
            Init::HeUniform => (6.0 / fan_in as f64).sqrt(),
            Init::GlorotUniform => (6.0 / (fan_in + fan_out) as f64).sqrt(),
        }
    }
}

/// One dense layer of a network, as data: what the model code builds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerSpec {
    /// Its name in the VarStore and in checkpoints: `hidden`, `hidden2`, …, `out`.
    pub name: &'static str,
    pub inputs: i64,
    pub outputs: i64,
    pub activation: Activation,
    pub init: Init,
}

/// One variable of a network in the flat parameter layout every part of gan1d shares: layer by
/// layer, the weight (`[out, in]`, row-major) then the bias (`[out]`). Engines keep a network's
/// parameters, gradients and Adam moments as one flat row in this layout; checkpoints name each
/// piece of the row `hidden.weight`, `hidden.bias`, …, `out.bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// `hidden.weight`, …, `out.bias`.
    pub name: String,
    /// Its layer's index in the network.
    pub layer: usize,
    /// Where it starts in the flat row.
    pub offset: i64,
    /// `[out, in]` for a weight, `[out]` for a bias.
    pub shape: Vec<i64>,
}

impl Variable {
    pub fn len(&self) -> i64 {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The variables of a network of `layers`, in flat order (see [`Variable`]).
pub fn variables(layers: &[LayerSpec]) -> Vec<Variable> {
    let mut variables = Vec::with_capacity(2 * layers.len());
    let mut offset = 0;
    for (index, layer) in layers.iter().enumerate() {
        for (part, shape) in [("weight", vec![layer.outputs, layer.inputs]), ("bias", vec![layer.outputs])] {
            let variable = Variable { name: format!("{}.{part}", layer.name), layer: index, offset, shape };
            offset += variable.len();
            variables.push(variable);
        }
    }
    variables
}

/// The length of a network's flat row: `Σ (in + 1) · out` over its layers.
pub fn parameter_count(layers: &[LayerSpec]) -> i64 {
    layers.iter().map(|l| (l.inputs + 1) * l.outputs).sum()
}

/// A point is `(x, f(x))`: the generator emits two numbers and the discriminator reads two.
pub const POINT_DIM: i64 = 2;
