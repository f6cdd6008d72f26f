//! Evaluating an expression's tree: in float64 with `libm` on the host (the same bits on every
//! CPU, what the metrics, plots and a CPU run's real points use), and by tensor operations on
//! the training device (one libtorch call per operator, constants folded).

use tch::Tensor;

use super::expression::{Function, Node, Operator};

impl Function {
    /// In double precision from the `libm` crate, not the platform's: the same bits on every
    /// CPU, so that the real points a CPU run trains on are too.
    pub(super) fn eval(self, v: f64) -> f64 {
        match self {
            Function::Sin => libm::sin(v),
            Function::Cos => libm::cos(v),
            Function::Tan => libm::tan(v),
            Function::Exp => libm::exp(v),
            Function::Log => libm::log(v),
            Function::Sqrt => v.sqrt(),
            Function::Abs => v.abs(),
            Function::Tanh => libm::tanh(v),
        }
    }

    pub(super) fn tensor(self, t: &Tensor) -> Tensor {
        match self {
            Function::Sin => t.sin(),
            Function::Cos => t.cos(),
            Function::Tan => t.tan(),
            Function::Exp => t.exp(),
            Function::Log => t.log(),
            Function::Sqrt => t.sqrt(),
            Function::Abs => t.abs(),
            Function::Tanh => t.tanh(),
        }
    }
}

/// A value met while evaluating on tensors: constants stay numbers, so `2*pi` costs no call.
pub(super) enum Value {
    Number(f64),
    Tensor(Tensor),
}

impl Node {
    pub(super) fn eval(&self, x: f64) -> f64 {
        match self {
            Node::X => x,
            Node::Number(c) => *c,
            Node::Neg(a) => -a.eval(x),
            Node::Call(f, a) => f.eval(a.eval(x)),
            Node::Binary(op, a, b) => {
                let (a, b) = (a.eval(x), b.eval(x));
                match op {
                    Operator::Add => a + b,
                    Operator::Sub => a - b,
                    Operator::Mul => a * b,
                    Operator::Div => a / b,
                    // Squares as products, as on tensors: exact where x·x is.
                    Operator::Pow if b == 2.0 => a * a,
                    Operator::Pow => libm::pow(a, b),
                }
            }
        }
    }

    pub(super) fn tensor(&self, xs: &Tensor) -> Value {
        use Value::{Number as N, Tensor as T};
        match self {
            Node::X => T(xs.shallow_clone()),
            Node::Number(c) => N(*c),
            Node::Neg(a) => match a.tensor(xs) {
                N(c) => N(-c),
                T(t) => T(-t),
            },
            Node::Call(f, a) => match a.tensor(xs) {
                N(c) => N(f.eval(c)),
                T(t) => T(f.tensor(&t)),
            },
            Node::Binary(op, a, b) => match (a.tensor(xs), b.tensor(xs), op) {
                (N(a), N(b), _) => {
                    N(Node::Binary(*op, Box::new(Node::Number(a)), Box::new(Node::Number(b))).eval(0.0))
                }
                (T(a), N(b), Operator::Add) => T(a + b),
                (T(a), N(b), Operator::Sub) => T(a - b),
                (T(a), N(b), Operator::Mul) => T(a * b),
                (T(a), N(b), Operator::Div) => T(a / b),
                (T(a), N(b), Operator::Pow) => T(a.pow_tensor_scalar(b)),
                (N(a), T(b), Operator::Add) => T(b + a),
                (N(a), T(b), Operator::Sub) => T(b.rsub_scalar(a)),
                (N(a), T(b), Operator::Mul) => T(b * a),
                (N(a), T(b), Operator::Div) => T(b.reciprocal() * a),
                (N(a), T(b), Operator::Pow) => T(Tensor::pow_scalar(a, &b)),
                (T(a), T(b), Operator::Add) => T(a + b),
                (T(a), T(b), Operator::Sub) => T(a - b),
                (T(a), T(b), Operator::Mul) => T(a * b),
                (T(a), T(b), Operator::Div) => T(a / b),
                (T(a), T(b), Operator::Pow) => T(a.pow(&b)),
            },
        }
    }
}
