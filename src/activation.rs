//! A layer's nonlinearity, in one place: its name, the initialiser that suits it, how it is
//! applied, and its derivative, in tensor form and on the host (the native engine's and every
//! file's numbers). Every formula of an activation is in this file, so a new activation is one
//! variant here plus its arms, each of which the compiler asks for; elsewhere only choices
//! that are not formulas look at it (a tanh output scales the data, `--g-output` takes linear
//! or tanh), and a test's independent reference in `model.rs`.

use tch::Tensor;

use crate::config::Init;

/// A layer's nonlinearity. Written `relu`, `leaky-relu:0.3`, `tanh`, `elu`, `linear`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `max(0, x)`: the tutorial's hidden activation.
    #[default]
    Relu,
    /// `x` for `x > 0`, `slope · x` otherwise, `0 ≤ slope < 1`.
    LeakyRelu(f64),
    Tanh,
    /// `x` for `x > 0`, `eˣ − 1` otherwise (α = 1).
    Elu,
    /// No activation: the generator's output, and the discriminator's logit (its sigmoid is
    /// folded into the loss, which is the numerically sound form).
    Linear,
}

impl Activation {
    /// Keras' default slope for `LeakyReLU`.
    pub const LEAKY_SLOPE: f64 = 0.3;

    /// The name it is written with (a leaky ReLU's slope follows a colon).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky-relu",
            Activation::Tanh => "tanh",
            Activation::Elu => "elu",
            Activation::Linear => "linear",
        }
    }

    /// The initialiser that suits a hidden layer with this activation. ReLU and its relatives
    /// (LeakyReLU, ELU) pass on about half their input's variance, which He's `√(6/fan_in)`
    /// makes up for; the tutorial asks for it with ReLU. tanh is symmetric and saturates, so it
    /// gets Glorot's `√(6/(fan_in+fan_out))`, Keras' default, which keeps it in its linear
    /// middle.
    pub fn initialiser(self) -> Init {
        match self {
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Elu => Init::HeUniform,
            Activation::Tanh | Activation::Linear => Init::GlorotUniform,
        }
    }

    /// The activation of pre-activations `ys`, in place where libtorch can. Autograd
    /// differentiates it too: a leaky ReLU is `prelu` with a fixed weight, whose derivative at
    /// 0 is the slope, as [`Activation::derivative`] takes it.
    pub fn apply(self, mut ys: Tensor) -> Tensor {
        let _ = match self {
            Activation::Relu => ys.relu_(),
            Activation::LeakyRelu(slope) => {
                return ys.prelu(&Tensor::from_slice(&[slope as f32]).to_device(ys.device()));
            }
            Activation::Tanh => ys.tanh_(),
            Activation::Elu => ys.elu_(),
            Activation::Linear => return ys,
        };
        ys
    }

    /// ∂loss/∂(pre-activation) from ∂loss/∂(output) `grad` and the layer's `output`: each
    /// derivative is read off the output, which the forward pass keeps.
    pub fn derivative(self, grad: Tensor, output: &Tensor) -> Tensor {
        match self {
            // ReLU's output is positive exactly where its input was.
            Activation::Relu => output.threshold_backward(&grad, 0.0),
            // So is LeakyReLU's, for a slope ≥ 0.
            Activation::LeakyRelu(slope) => output.leaky_relu_backward(&grad, slope, true),
            Activation::Tanh => Tensor::tanh_backward(&grad, output),
            // ELU's derivative is 1 where its output is positive, output + α elsewhere.
            Activation::Elu => Tensor::elu_backward(&grad, 1.0, 1.0, 1.0, true, output),
            Activation::Linear => grad,
        }
    }

    /// [`Activation::apply`] on the host, in place over a row of pre-activations: float32, the
    /// transcendental functions from `libm`, so the same bits on every CPU.
    #[inline(always)]
    pub fn apply_host(self, row: &mut [f32]) {
        match self {
            // `x < 0` rather than `max`, so that a NaN stays NaN and divergence is seen.
            Activation::Relu => row.iter_mut().for_each(|y| *y = if *y < 0.0 { 0.0 } else { *y }),
            Activation::LeakyRelu(slope) => {
                let slope = slope as f32;
                row.iter_mut().for_each(|y| *y = if *y < 0.0 { slope * *y } else { *y })
            }
            Activation::Tanh => row.iter_mut().for_each(|y| *y = libm::tanhf(*y)),
            Activation::Elu => row.iter_mut().for_each(|y| *y = if *y > 0.0 { *y } else { libm::expm1f(*y) }),
            Activation::Linear => {}
        }
    }

    /// [`Activation::derivative`] on the host, in place: ∂loss/∂(pre-activation) from
    /// ∂loss/∂(output) `grad` and the layer's `output` (indexed loops, which stay inlined in
    /// the hot loops whatever the compiler judges of iterator adapters).
    #[inline(always)]
    pub fn derive_host(self, grad: &mut [f32], output: &[f32]) {
        let output = &output[..grad.len()];
        match self {
            Activation::Relu => {
                for i in 0..grad.len() {
                    grad[i] = if output[i] > 0.0 { grad[i] } else { 0.0 };
                }
            }
            Activation::LeakyRelu(slope) => {
                let slope = slope as f32;
                for i in 0..grad.len() {
                    grad[i] = if output[i] > 0.0 { grad[i] } else { grad[i] * slope };
                }
            }
            Activation::Tanh => {
                for i in 0..grad.len() {
                    grad[i] *= 1.0 - output[i] * output[i];
                }
            }
            Activation::Elu => {
                for i in 0..grad.len() {
                    grad[i] = if output[i] > 0.0 { grad[i] } else { grad[i] * (output[i] + 1.0) };
                }
            }
            Activation::Linear => {}
        }
    }

    /// Whether the second derivative is anything but zero almost everywhere: ReLU, LeakyReLU
    /// and linear layers are straight on each side of 0, so a gradient penalty's second-order
    /// pass goes through their weights alone.
    pub fn is_curved(self) -> bool {
        matches!(self, Activation::Tanh | Activation::Elu)
    }

    /// `grad` times the second derivative at each pre-activation, read off the layer's
    /// `output` as [`Activation::derivative`] reads the first: tanh's `−2h(1 − h²)`, ELU's
    /// `h + 1` where its output is not positive, zero for the others.
    pub fn second_derivative(self, grad: &Tensor, output: &Tensor) -> Tensor {
        match self {
            Activation::Tanh => grad * (output * -2.0) * (output * output).neg().g_add_scalar(1.0),
            Activation::Elu => grad * output.g_add_scalar(1.0) * output.le(0.0).to_kind(output.kind()),
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Linear => grad.zeros_like(),
        }
    }

    /// [`Activation::second_derivative`] on the host, in place over `grad`.
    #[inline(always)]
    pub fn second_host(self, grad: &mut [f32], output: &[f32]) {
        let output = &output[..grad.len()];
        match self {
            Activation::Tanh => {
                for i in 0..grad.len() {
                    let h = output[i];
                    grad[i] = grad[i] * (-2.0 * h) * (1.0 - h * h);
                }
            }
            Activation::Elu => {
                for i in 0..grad.len() {
                    grad[i] = if output[i] > 0.0 { 0.0 } else { grad[i] * (output[i] + 1.0) };
                }
            }
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Linear => grad.fill(0.0),
        }
    }

    /// Every activation without a parameter, for parsing by name.
    const NAMED: [Activation; 5] = [
        Activation::Relu,
        Activation::LeakyRelu(Activation::LEAKY_SLOPE),
        Activation::Tanh,
        Activation::Elu,
        Activation::Linear,
    ];
}

impl std::str::FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(&named) = Activation::NAMED.iter().find(|a| a.name() == s) {
            return Ok(named);
        }
        match s.strip_prefix("leaky-relu:") {
            Some(text) => match text.parse::<f64>() {
                Ok(a) if (0.0..1.0).contains(&a) => Ok(Activation::LeakyRelu(a)),
                _ => Err(format!("leaky-relu's slope must be a number from 0 to below 1, got `{text}`")),
            },
            None => Err(format!("must be relu, leaky-relu[:SLOPE], tanh or elu, got `{s}`")),
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activation::LeakyRelu(slope) => write!(f, "{}:{slope}", self.name()),
            other => f.write_str(other.name()),
        }
    }
}

impl TryFrom<String> for Activation {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    const ALL: [Activation; 6] = [
        Activation::Relu,
        Activation::LeakyRelu(0.3),
        Activation::LeakyRelu(0.0),
        Activation::Tanh,
        Activation::Elu,
        Activation::Linear,
    ];

    #[test]
    fn names_round_trip() {
        for a in ALL {
            assert_eq!(a.to_string().parse::<Activation>(), Ok(a), "{a}");
        }
        assert_eq!("leaky-relu".parse(), Ok(Activation::LeakyRelu(0.3)));
        for bad in ["leaky-relu:1", "leaky-relu:-0.1", "leaky-relu:x", "sigmoid", "RELU", ""] {
            assert!(bad.parse::<Activation>().is_err(), "{bad}");
        }
    }

    /// Each second derivative, read off the output, on the host and in tensors, against
    /// autograd's derivative of its own first derivative (`create_graph`), away from 0 where
    /// ReLU's relatives have none.
    #[test]
    fn second_derivatives_match_autograd() {
        let values = [-2.5f32, -0.7, -1e-2, 1e-2, 0.4, 3.0];
        let xs = Tensor::from_slice(&values);
        for a in ALL {
            let x = xs.copy().set_requires_grad(true);
            let y = a.apply(&x * 1.0);
            let first = Tensor::run_backward(&[y.sum(Kind::Float)], &[&x], true, true).remove(0);
            let reference = if first.requires_grad() {
                Tensor::run_backward(&[first.sum(Kind::Float)], &[&x], false, false).remove(0)
            } else {
                x.zeros_like()
            };
            let output = y.detach();
            let ones = output.ones_like();
            let tensor = a.second_derivative(&ones, &output);
            let mut host = vec![1f32; values.len()];
            a.second_host(&mut host, &Vec::<f32>::try_from(&output).unwrap());
            let diff = (&tensor - &reference).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{a}: tensor form off by {diff}");
            let diff = (Tensor::from_slice(&host) - &reference).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{a}: host form off by {diff}");
            assert_eq!(a.is_curved(), reference.abs().max().double_value(&[]) > 0.0, "{a}");
        }
    }

    /// Each derivative, read off the output, against autograd's derivative of `apply`, at
    /// points that include 0 and both signs.
    #[test]
    fn derivatives_match_autograd() {
        let xs = Tensor::from_slice(&[-2.5f32, -0.7, -1e-3, 0.0, 1e-3, 0.4, 3.0]);
        let upstream = Tensor::from_slice(&[0.3f32, -1.2, 0.8, 1.5, -0.4, 2.0, -0.9]);
        for a in ALL {
            let x = xs.copy().set_requires_grad(true);
            // `apply` works in place, which autograd allows on a non-leaf.
            let y = a.apply(&x * 1.0);
            (&y * &upstream).sum(Kind::Float).backward();
            let hand = a.derivative(upstream.copy(), &y.detach());
            let diff = (hand - x.grad()).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{a}: {diff}");
        }
    }
}
