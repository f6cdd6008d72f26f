//! What a run learns: a curve `y = f(x)` on a domain `[LO, HI)`, or a distribution of points
//! in the plane (`plane`: mixtures, moons, a spiral, a user's points). [`Target`] owns it. A
//! curve comes in two forms that agree, a tensor form for training (evaluated on the training
//! device, one libtorch call per operator) and a scalar `f64` form for the metrics and plots;
//! it knows its domain and the range of `f` over it. Every target knows the box that holds
//! its points, and [`Scaling`] maps points between the data's axes and the `[-1, 1]` axes a
//! tanh generator works in.
//!
//! Expressions are parsed by a `pest` grammar (`target.pest`) with its Pratt parser for
//! precedence: `^` binds tightest and groups to the right, then unary minus, then `* /`, then
//! `+ -`, so `-x^2` is `-(x^2)` and `2^3^2` is `2^9`. Built-in names (`sine`, …) are shortcuts
//! for expressions written in the domain's own coordinates.

use anyhow::{Result, bail};
use pest::Parser;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::limits;
use crate::plane::{DataSet, Plane};

#[derive(pest_derive::Parser)]
#[grammar = "target.pest"]
struct Grammar;

/// The tutorial's target, `x²`.
pub const DEFAULT_EXPRESSION: &str = "x^2";

/// The built-in targets: `(name, what it is, its expression)`, where the expression may use
/// `u`, the domain mapped onto `[-1, 1)`: `u = (x − m) / w` with `m` the domain's middle and
/// `w` its half-width. On the default domain `[-0.5, 0.5)`, `u = 2x`.
pub const BUILT_INS: [(&str, &str, &str); 6] = [
    ("square", "the tutorial's parabola", "x^2"),
    ("cube", "a cubic, rising through 0", "x^3"),
    ("sine", "one full period over the domain", "sin(pi*u)"),
    ("gaussian", "a bump centred in the domain, 3 standard deviations from each end", "exp(-4.5*u^2)"),
    ("quadratic", "another parabola, shifted right and tilted", "(u - 0.4)^2/2 - u/4"),
    ("multimodal", "a degree-6 polynomial with four peaks and three valleys", "32*u^6 - 48*u^4 + 18*u^2 - 1"),
];

/// The functions an expression may call.
const FUNCTIONS: [(&str, Function); 8] = [
    ("sin", Function::Sin),
    ("cos", Function::Cos),
    ("tan", Function::Tan),
    ("exp", Function::Exp),
    ("log", Function::Log),
    ("sqrt", Function::Sqrt),
    ("abs", Function::Abs),
    ("tanh", Function::Tanh),
];

/// Points at which [`Target::new`] evaluates `f` to find its range and check it is finite.
const RANGE_GRID: usize = 100_001;

/// The largest `|f(x)|` a target may reach: beyond it float32 training loses its precision.
const MAX_VALUE: f64 = 1e6;

/// The interval `[low, high)` that real `x` are drawn from uniformly. Written `LO,HI`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "[f64; 2]", into = "[f64; 2]")]
pub struct Domain {
    low: f64,
    high: f64,
}

impl Domain {
    /// The tutorial's `rand(n) - 0.5`.
    pub const DEFAULT: Domain = Domain { low: -0.5, high: 0.5 };

    /// `[low, high)`; the refusal reads as the end of a sentence naming the domain:
    /// `must have LO < HI, …`.
    pub fn new(low: f64, high: f64) -> Result<Domain, String> {
        let max = limits::MAX_DOMAIN_ABS;
        if !(low.is_finite() && high.is_finite()) || low.abs() > max || high.abs() > max {
            return Err(format!("must have both ends from -{max:e} to {max:e}, got {low},{high}"));
        }
        let min = limits::MIN_DOMAIN_WIDTH;
        if high - low < min {
            return Err(format!("must be LO,HI with LO < HI, at least {min:e} apart, got {low},{high}"));
        }
        // Points are float32: the ends must stay apart once rounded to it.
        let (low32, high32) = (low as f32, high as f32);
        if f64::from(high32) - f64::from(low32) < min {
            return Err(format!(
                "must be LO,HI at least {min:e} apart as float32 numbers, in which gan1d computes; {low},{high} \
                 rounds to {low32},{high32}"
            ));
        }
        Ok(Domain { low, high })
    }

    pub fn low(&self) -> f64 {
        self.low
    }

    pub fn high(&self) -> f64 {
        self.high
    }

    pub fn middle(&self) -> f64 {
        (self.low + self.high) / 2.0
    }

    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }

    pub fn contains(&self, x: f64) -> bool {
        (self.low..self.high).contains(&x)
    }
}

impl Default for Domain {
    fn default() -> Self {
        Domain::DEFAULT
    }
}

impl TryFrom<[f64; 2]> for Domain {
    type Error = String;

    fn try_from([low, high]: [f64; 2]) -> Result<Self, Self::Error> {
        Domain::new(low, high).map_err(|e| format!("the domain {e}"))
    }
}

impl From<Domain> for [f64; 2] {
    fn from(d: Domain) -> Self {
        [d.low, d.high]
    }
}

impl std::str::FromStr for Domain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number =
            |t: &str| t.trim().parse::<f64>().map_err(|_| format!("must be LO,HI, two numbers, got `{s}`"));
        match s.split_once(',') {
            Some((low, high)) => Domain::new(number(low)?, number(high)?),
            None => Err(format!("must be LO,HI, two numbers separated by a comma, got `{s}`")),
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.low, self.high)
    }
}

/// What a run's target is, as the user gave it: saved in the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// A built-in name (`sine`, `ring`), an expression in `x` (`x^2`), a parameterised
    /// mixture (`grid:7`), or `data` for the points of `data`.
    pub expression: String,
    /// The domain `[LO, HI)` of a curve's `x`.
    pub domain: Domain,
    /// A `--data` run's points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSet>,
}

impl TargetConfig {
    /// The target `--target` names (a curve's expression or built-in, or a plane target's
    /// name), with the curve's `domain`.
    pub fn given(expression: &str, domain: Domain) -> TargetConfig {
        TargetConfig { expression: expression.to_string(), domain, data: None }
    }

    /// A user's points, read by `plane::read_data`.
    pub fn data(set: DataSet) -> TargetConfig {
        TargetConfig { expression: crate::plane::DATA.to_string(), domain: Domain::DEFAULT, data: Some(set) }
    }
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig::given(DEFAULT_EXPRESSION, Domain::DEFAULT)
    }
}

/// The target ready to use: a curve parsed, checked finite over the domain, its range known;
/// or a plane distribution.
#[derive(Debug, Clone)]
pub struct Target {
    config: TargetConfig,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Curve(Curve),
    Plane(Plane),
}

#[derive(Debug, Clone)]
struct Curve {
    /// The expression in `x` (a built-in name expanded).
    formula: String,
    root: Node,
    /// `(min, max)` of `f` over the domain.
    range: (f64, f64),
}

impl Default for Target {
    fn default() -> Self {
        Target::new(&TargetConfig::default()).expect("the tutorial's target is valid")
    }
}

impl Target {
    /// Parses `config.expression` (a built-in name, or an expression in `x`), then evaluates it
    /// on a grid of the domain to find its range and to refuse a function that is not finite
    /// there. Errors name `--target` and, for a bad expression, the position.
    pub fn new(config: &TargetConfig) -> Result<Target> {
        let domain = config.domain;
        let text = config.expression.trim();
        if text.len() > limits::MAX_EXPRESSION_BYTES {
            bail!("--target is {} bytes long; at most {} are read", text.len(), limits::MAX_EXPRESSION_BYTES);
        }
        if let Some(plane) = Plane::parse(text, config.data.as_ref()) {
            let plane = plane?;
            if domain != Domain::DEFAULT {
                bail!(
                    "--domain {domain} is for a curve's x; `{text}` is a distribution in the plane, which has none"
                );
            }
            return Ok(Target { config: config.clone(), shape: Shape::Plane(plane) });
        }
        if config.data.is_some() {
            bail!("a target with --data points must be `data`, got `{text}`");
        }
        let formula = expand(text, domain);
        let root = parse(&formula).map_err(|e| match formula == text {
            true => anyhow::anyhow!("--target `{text}`: {e}"),
            false => anyhow::anyhow!("--target {text} (`{formula}`): {e}"),
        })?;
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        let step = (domain.high - domain.low) / (RANGE_GRID - 1) as f64;
        for i in 0..RANGE_GRID {
            let x = domain.low + step * i as f64;
            let y = root.eval(x);
            if !y.is_finite() || y.abs() > MAX_VALUE {
                bail!(
                    "--target `{text}` is {} at x = {x} (f = {y}); choose a --domain where it is finite and \
                     within ±{MAX_VALUE:e}",
                    if y.is_finite() { "too large" } else { "not finite" }
                );
            }
            (low, high) = (low.min(y), high.max(y));
        }
        // Training computes in float32, where an intermediate value can overflow that double
        // precision holds (exp(100·x) / exp(100·x)): check that form on the same grid too.
        let grid = Tensor::linspace(domain.low, domain.high, RANGE_GRID as i64, (Kind::Float, Device::Cpu));
        let values = match root.tensor(&grid) {
            Value::Tensor(t) => t,
            Value::Number(c) => Tensor::from(c),
        };
        if let Some(x) = first_not_finite(&grid, &values) {
            bail!(
                "--target `{text}` overflows float32, in which gan1d trains, at x = {x}; rewrite it so that \
                 no intermediate value exceeds about 3e38"
            );
        }
        let curve = Curve { formula, root, range: (low, high) };
        Ok(Target { config: config.clone(), shape: Shape::Curve(curve) })
    }

    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// The plane distribution, if the target is one rather than a curve.
    pub fn plane(&self) -> Option<&Plane> {
        match &self.shape {
            Shape::Plane(plane) => Some(plane),
            Shape::Curve(_) => None,
        }
    }

    fn as_curve(&self) -> Option<&Curve> {
        match &self.shape {
            Shape::Curve(curve) => Some(curve),
            Shape::Plane(_) => None,
        }
    }

    /// A curve's domain; for a plane target, the x extent of its box.
    pub fn domain(&self) -> Domain {
        match &self.shape {
            Shape::Curve(_) => self.config.domain,
            Shape::Plane(plane) => {
                let (low, high, _, _) = plane.bounds();
                Domain { low, high }
            }
        }
    }

    /// `(min, max)` of a curve's `f` over the domain, found on a grid of 100 001 points; for a
    /// plane target, the y extent of its box.
    pub fn range(&self) -> (f64, f64) {
        match &self.shape {
            Shape::Curve(curve) => curve.range,
            Shape::Plane(plane) => {
                let (_, _, low, high) = plane.bounds();
                (low, high)
            }
        }
    }

    /// `(x0, x1, y0, y1)`: the box that holds the target's points (a curve's domain and range).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let (d, (low, high)) = (self.domain(), self.range());
        (d.low, d.high, low, high)
    }

    /// Random words of a draw that one real point takes.
    pub fn words_per_point(&self) -> i64 {
        if self.plane().is_some() { crate::plane::WORDS_PER_POINT } else { 1 }
    }

    /// A curve's expression in `x`, built-in names expanded; a plane target's name as given.
    pub fn formula(&self) -> &str {
        match &self.shape {
            Shape::Curve(curve) => &curve.formula,
            Shape::Plane(_) => self.config.expression.trim(),
        }
    }

    /// The name a plane target is shown by: its expression, or a data set's file name.
    fn plane_name(&self) -> String {
        match &self.config.data {
            Some(set) => set.file.clone(),
            None => self.config.expression.trim().to_string(),
        }
    }

    /// How plots and tables name the target: `f(x) = x^2`, or `sine: f(x) = sin(pi*…)`, or
    /// `ring: 8 Gaussians, σ 0.01`.
    pub fn label(&self) -> String {
        let curve = match &self.shape {
            Shape::Curve(curve) => curve,
            Shape::Plane(plane) => return format!("{}: {}", self.plane_name(), plane.describe()),
        };
        let given = self.config.expression.trim();
        if given == curve.formula {
            format!("f(x) = {}", curve.formula)
        } else {
            format!("{given}: f(x) = {}", curve.formula)
        }
    }

    /// A short name for legends: the built-in's name, or `f(x) = …` cut to 32 characters.
    pub fn legend_label(&self) -> String {
        let given = self.config.expression.trim();
        if self.plane().is_some() {
            return self.plane_name();
        }
        if given != self.formula() {
            return given.to_string();
        }
        let label = format!("f(x) = {given}");
        match label.char_indices().nth(32) {
            Some((cut, _)) => format!("{}…", &label[..cut]),
            None => label,
        }
    }

    /// A curve's `f(x)` in double precision: the metrics' and plots' form (NaN for a plane
    /// target).
    pub fn f(&self, x: f64) -> f64 {
        self.as_curve().map_or(f64::NAN, |c| c.root.eval(x))
    }

    /// A curve's `f` applied to every element of `xs`, on its device, in its float type.
    pub fn tensor(&self, xs: &Tensor) -> Tensor {
        let curve = self.as_curve().expect("only a curve has a tensor form");
        match curve.root.tensor(xs) {
            Value::Tensor(t) => t,
            Value::Number(c) => xs.zeros_like().fill_(c),
        }
    }

    /// Writes `f(xs)` into `out` (same shape). The tutorial's `x^2` is one multiplication.
    /// Otherwise, on the CPU, `f` is evaluated on the host in double precision ([`Target::f`],
    /// rounded to float32), which gives the same bits on every CPU; on CUDA, by tensor
    /// operations there.
    pub fn write(&self, xs: &Tensor, out: &Tensor) {
        if self.is_square() {
            let _ = xs.mul_out(out, xs);
        } else if xs.device() == Device::Cpu {
            let values: Vec<f32> = Vec::try_from(xs.to_kind(Kind::Float).contiguous().view([-1]))
                .expect("points convert to Vec<f32>");
            let ys: Vec<f32> = values.iter().map(|&x| self.at_f32(x)).collect();
            out.shallow_clone().copy_(&Tensor::from_slice(&ys).view(xs.size().as_slice()));
        } else {
            out.shallow_clone().copy_(&self.tensor(xs));
        }
    }

    /// Whether the target is the tutorial's `x^2`, one multiplication.
    fn is_square(&self) -> bool {
        self.as_curve().is_some_and(|c| {
            matches!(&c.root, Node::Binary(Operator::Pow, base, exponent)
                if **base == Node::X && **exponent == Node::Number(2.0))
        })
    }

    /// `f(x)` as a CPU run's real points have it: `x·x` in float32 for `x^2`, otherwise
    /// [`Target::f`] rounded to float32. What [`Target::write`] writes on the CPU.
    pub fn at_f32(&self, x: f32) -> f32 {
        if self.is_square() { x * x } else { self.f(f64::from(x)) as f32 }
    }

    /// `n` points of the curve at evenly spaced `x` across the domain, ends included; none for
    /// a plane target.
    pub fn curve(&self, n: usize) -> Vec<(f64, f64)> {
        if self.plane().is_some() {
            return Vec::new();
        }
        let d = self.domain();
        let n = n.max(2);
        let step = (d.high - d.low) / (n - 1) as f64;
        (0..n).map(|i| d.low + step * i as f64).map(|x| (x, self.f(x))).collect()
    }
}

/// The first of `xs` where `values` (same shape, or one number) is NaN or infinite.
fn first_not_finite(xs: &Tensor, values: &Tensor) -> Option<f64> {
    let bad = values.isfinite().logical_not().expand_as(xs);
    let index = bad.to_kind(Kind::Int64).argmax(None, false).int64_value(&[]);
    bad.int64_value(&[index]).eq(&1).then(|| xs.double_value(&[index]))
}

/// The text of `name`'s expression if it is a built-in, with `u` written out for `domain`;
/// otherwise `name` itself.
fn expand(name: &str, domain: Domain) -> String {
    let Some((_, _, expression)) = BUILT_INS.iter().find(|(n, _, _)| *n == name) else {
        return name.to_string();
    };
    let shifted = match domain.middle() {
        0.0 => "x".to_string(),
        m if m < 0.0 => format!("(x + {})", -m),
        m => format!("(x - {m})"),
    };
    let u = match domain.half_width() {
        1.0 => shifted,
        w => format!("({shifted}/{w})"),
    };
    expression.replace('u', &u)
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    X,
    Number(f64),
    Neg(Box<Node>),
    Binary(Operator, Box<Node>, Box<Node>),
    Call(Function, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Sin,
    Cos,
    Tan,
    Exp,
    Log,
    Sqrt,
    Abs,
    Tanh,
}

impl Function {
    /// In double precision from the `libm` crate, not the platform's: the same bits on every
    /// CPU, so that the real points a CPU run trains on are too.
    fn eval(self, v: f64) -> f64 {
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

    fn tensor(self, t: &Tensor) -> Tensor {
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
enum Value {
    Number(f64),
    Tensor(Tensor),
}

impl Node {
    fn eval(&self, x: f64) -> f64 {
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

    fn tensor(&self, xs: &Tensor) -> Value {
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

/// Parses `text` into a [`Node`]; the error says what was expected, and where, in one line.
fn parse(text: &str) -> Result<Node, String> {
    let mut pairs = Grammar::parse(Rule::expression, text).map_err(|e| syntax_error(text, &e))?;
    let expression = pairs.next().expect("the grammar yields one expression");
    build(expression.into_inner().filter(|p| p.as_rule() != Rule::EOI))
}

/// Operator precedence, loosest first.
fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg) | Op::prefix(Rule::plus))
        .op(Op::infix(Rule::pow, Assoc::Right))
}

/// Builds the tree of a sequence of terms and infix operators.
fn build<'i>(pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Result<Node, String> {
    pratt()
        .map_primary(primary)
        .map_prefix(|op, operand| {
            let operand = operand?;
            Ok(if op.as_rule() == Rule::neg { Node::Neg(Box::new(operand)) } else { operand })
        })
        .map_infix(|left, op, right| {
            let operator = match op.as_rule() {
                Rule::add => Operator::Add,
                Rule::sub => Operator::Sub,
                Rule::mul => Operator::Mul,
                Rule::div => Operator::Div,
                _ => Operator::Pow,
            };
            Ok(Node::Binary(operator, Box::new(left?), Box::new(right?)))
        })
        .parse(pairs)
}

fn primary(pair: Pair<Rule>) -> Result<Node, String> {
    let at = pair.as_span().start() + 1;
    // What lies between a group's or a call's parentheses (a call's name comes first).
    let inside = |pair: Pair<Rule>| {
        let skip = usize::from(pair.as_rule() == Rule::call);
        build(pair.into_inner().skip(skip).filter(|p| !matches!(p.as_rule(), Rule::open | Rule::close)))
    };
    match pair.as_rule() {
        Rule::number => {
            pair.as_str().parse().map(Node::Number).map_err(|_| format!("bad number at character {at}"))
        }
        Rule::group => inside(pair),
        Rule::call => {
            let name =
                pair.clone().into_inner().next().expect("a call starts with a name").as_str().to_string();
            match FUNCTIONS.iter().find(|(n, _)| *n == name) {
                Some(&(_, function)) => Ok(Node::Call(function, Box::new(inside(pair)?))),
                None => Err(format!(
                    "`{name}` at character {at} is not a function; the functions are {}",
                    function_list()
                )),
            }
        }
        _ => match pair.as_str() {
            "x" => Ok(Node::X),
            "pi" => Ok(Node::Number(std::f64::consts::PI)),
            "e" => Ok(Node::Number(std::f64::consts::E)),
            name if FUNCTIONS.iter().any(|(n, _)| *n == name) => {
                Err(format!("`{name}` at character {at} is a function: write {name}(…)"))
            }
            name => Err(format!(
                "unknown name `{name}` at character {at}; an expression uses x, numbers, pi, e and the functions {} \
                 (a distribution in the plane is named alone: {})",
                function_list(),
                crate::plane::NAMES.join(", ")
            )),
        },
    }
}

fn function_list() -> String {
    FUNCTIONS.map(|(n, _)| n).join(" ")
}

/// A pest error as one line: what was expected at which character, and what was found.
fn syntax_error(text: &str, error: &pest::error::Error<Rule>) -> String {
    let position = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    };
    let mut expected: Vec<&str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            let what = match rule {
                // After a name, `(` would make it a call: true, but never the helpful hint.
                Rule::open => continue,
                Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::pow => "an operator",
                Rule::close => "`)`",
                Rule::EOI => "the end",
                _ => "a number, x, a function or `(`",
            };
            if !expected.contains(&what) {
                expected.push(what);
            }
        }
    }
    if expected.is_empty() {
        expected.push("something else");
    }
    let character = text[..position.min(text.len())].chars().count() + 1;
    let found = match text[position.min(text.len())..].chars().next() {
        Some(c) => format!("found `{c}`"),
        None => "found the end".to_string(),
    };
    format!(
        "expected {} at character {character} ({found}; read so far: `{}`)",
        expected.join(" or "),
        &text[..position.min(text.len())]
    )
}

/// An affine map of one axis onto `[-1, 1]`: `v ↦ (v − center) / half_width`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affine {
    pub center: f64,
    pub half_width: f64,
}

impl Affine {
    const IDENTITY: Affine = Affine { center: 0.0, half_width: 1.0 };

    /// The map of `[low, high]` onto `[-1, 1]`; an interval of no width is only centred.
    fn onto_unit(low: f64, high: f64) -> Affine {
        let half_width = (high - low) / 2.0;
        let center = (low + high) / 2.0;
        Affine {
            center,
            half_width: if half_width > 1e-12 * center.abs().max(1.0) { half_width } else { 1.0 },
        }
    }

    fn is_valid(&self) -> bool {
        self.center.is_finite() && self.half_width.is_finite() && self.half_width > 0.0
    }
}

/// The share of its half-width by which a plane target's box is widened on each side before
/// it is scaled onto `[-1, 1]`.
pub const PLANE_MARGIN: f64 = 0.1;

/// How points are scaled between the data's axes and the axes the networks work in. With a
/// tanh generator both axes are mapped onto `[-1, 1]` (x from the domain, y from the target's
/// range), so that the generator's output can reach every real point; with a linear generator
/// nothing is scaled. Recorded in the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub x: Affine,
    pub y: Affine,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling::IDENTITY
    }
}

impl Scaling {
    pub const IDENTITY: Scaling = Scaling { x: Affine::IDENTITY, y: Affine::IDENTITY };

    /// Both axes of `target` onto `[-1, 1]`: a curve's domain and range; a plane target's box
    /// widened by [`PLANE_MARGIN`] of its half-width on every side, so that a tanh generator
    /// reaches the outermost points before it saturates.
    pub fn onto_unit_square(target: &Target) -> Scaling {
        let (x0, x1, y0, y1) = target.bounds();
        let margin = if target.plane().is_some() { PLANE_MARGIN } else { 0.0 };
        let widened = |low: f64, high: f64| {
            let m = margin * (high - low) / 2.0;
            Affine::onto_unit(low - m, high + m)
        };
        Scaling { x: widened(x0, x1), y: widened(y0, y1) }
    }

    pub fn is_identity(&self) -> bool {
        *self == Scaling::IDENTITY
    }

    /// Refuses a scaling read from a file that would not be invertible.
    pub fn validate(&self) -> Result<()> {
        if !(self.x.is_valid() && self.y.is_valid()) {
            bail!("the scaling must have finite centres and positive finite half-widths, got {self:?}");
        }
        Ok(())
    }

    /// The scaling as tensors on `device`, made once for a loop; `None` for the identity.
    pub fn on(&self, device: Device) -> Option<ScalingTensors> {
        if self.is_identity() {
            return None;
        }
        let pair = |x: f64, y: f64| Tensor::from_slice(&[x as f32, y as f32]).to_device(device);
        Some(ScalingTensors {
            center: pair(self.x.center, self.y.center),
            half_width: pair(self.x.half_width, self.y.half_width),
        })
    }

    /// Maps data points `[n, 2]` onto the networks' axes, in place.
    pub fn to_model_(&self, points: &mut Tensor) {
        if let Some(tensors) = self.on(points.device()) {
            tensors.to_model_(points);
        }
    }

    /// A data point on the networks' axes, on the host, in the float32 operations of
    /// [`Scaling::to_model_`], so the same numbers.
    pub fn point_to_model(&self, (x, y): (f32, f32)) -> (f32, f32) {
        if self.is_identity() {
            return (x, y);
        }
        let axis = |v: f32, a: Affine| (v - a.center as f32) / a.half_width as f32;
        (axis(x, self.x), axis(y, self.y))
    }

    /// The networks' points `[n, 2]` on the data's axes.
    pub fn to_data(&self, points: &Tensor) -> Tensor {
        match self.on(points.device()) {
            Some(tensors) => tensors.to_data(points),
            None => points.shallow_clone(),
        }
    }
}

/// A [`Scaling`]'s centres and half-widths, `[2]` each (x, y), on the points' device.
#[derive(Debug)]
pub struct ScalingTensors {
    center: Tensor,
    half_width: Tensor,
}

impl ScalingTensors {
    /// Maps data points `[n, 2]` onto the networks' axes, in place.
    pub fn to_model_(&self, points: &mut Tensor) {
        let _ = points.g_sub_(&self.center).g_div_(&self.half_width);
    }

    /// The networks' points `[n, 2]` on the data's axes.
    pub fn to_data(&self, points: &Tensor) -> Tensor {
        points * &self.half_width + &self.center
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(expression: &str) -> Result<Target> {
        Target::new(&TargetConfig::given(expression, Domain::DEFAULT))
    }

    fn error(expression: &str) -> String {
        format!("{:#}", target(expression).unwrap_err())
    }

    #[test]
    fn precedence_and_associativity_are_the_usual_ones() {
        for (text, x, expected) in [
            ("x^2", 0.3, 0.09),
            ("-x^2", 0.3, -0.09),
            ("2^3^2", 0.0, 512.0),
            ("1 - 2 - 3", 0.0, -4.0),
            ("8 / 4 / 2", 0.0, 1.0),
            ("2 * 3 + 4 * 5", 0.0, 26.0),
            ("2 ** 3", 0.0, 8.0),
            ("-(x + 1) * 2", 0.5, -3.0),
            ("--x", 0.25, 0.25),
            ("2^-1", 0.0, 0.5),
            ("sin(pi/2) + cos(0) + tan(0) + exp(0) + log(e) + sqrt(4) + abs(-1) + tanh(0)", 0.0, 7.0),
            ("1.5e1 + .5 + 2.", 0.0, 17.5),
        ] {
            let t = target(text).unwrap();
            assert!((t.f(x) - expected).abs() < 1e-12, "{text} at {x}: {} != {expected}", t.f(x));
        }
    }

    #[test]
    fn bad_expressions_point_at_the_position() {
        let e = error("sin(3*x");
        assert!(e.contains("expected an operator or `)` at character 8"), "{e}");
        assert!(e.starts_with("--target `sin(3*x`"), "{e}");
        let e = error("2x");
        assert!(e.contains("at character 2 (found `x`"), "{e}");
        let e = error("x + * 2");
        assert!(e.contains("a number, x, a function or `(` at character 5"), "{e}");
        let e = error("y + 1");
        assert!(e.contains("unknown name `y` at character 1"), "{e}");
        assert!(error("rings").contains("named alone: ring, grid, moons, spiral"));
        let e = error("x + foo(x)");
        assert!(e.contains("`foo` at character 5 is not a function"), "{e}");
        let e = error("sin + 1");
        assert!(e.contains("`sin` at character 1 is a function: write sin(…)"), "{e}");
        assert!(error("").contains("at character 1"));
        assert!(!error("(((").contains('\n'));
    }

    #[test]
    fn targets_that_are_not_finite_on_the_domain_are_refused() {
        let e = error("log(x)");
        assert!(e.contains("is not finite at x = -0.5"), "{e}");
        let e = error("1/x");
        assert!(e.contains("not finite at x = 0"), "{e}");
        assert!(error("exp(100*x)").contains("too large"));
        let e = error("exp(200*x)/exp(200*x)");
        assert!(e.contains("overflows float32, in which gan1d trains, at x = 0.4"), "{e}");
        let shifted = TargetConfig::given("log(x)", Domain::new(0.5, 2.0).unwrap());
        assert!((Target::new(&shifted).unwrap().range().1 - 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn the_tensor_form_agrees_with_the_scalar_form() {
        let xs = Tensor::linspace(-0.5, 0.5, 1001, (Kind::Float, Device::Cpu));
        let hosts: Vec<f32> = Vec::try_from(&xs).unwrap();
        for (name, _, _) in BUILT_INS {
            let t = target(name).unwrap();
            let ys: Vec<f32> = Vec::try_from(t.tensor(&xs)).unwrap();
            let scale = t.range().1 - t.range().0;
            for (&x, &y) in hosts.iter().zip(&ys) {
                assert!(
                    (y as f64 - t.f(x as f64)).abs() <= 1e-5 * scale.max(1.0),
                    "{name} at {x}: {y} vs {}",
                    t.f(x as f64)
                );
            }
        }
        // A constant expression fills the tensor.
        let c: Vec<f32> = Vec::try_from(target("2*pi").unwrap().tensor(&xs)).unwrap();
        assert!(c.iter().all(|&v| v == std::f32::consts::TAU));
        // Every operator with a number on either side, and between tensors.
        let t = target("(2 - x) / (1 + x) + 3 / (x + 2) + 2^x + x^x^0 * x - abs(x)").unwrap();
        let ys: Vec<f32> = Vec::try_from(t.tensor(&xs)).unwrap();
        for (&x, &y) in hosts.iter().zip(&ys) {
            assert!((y as f64 - t.f(x as f64)).abs() < 1e-5, "at {x}: {y} vs {}", t.f(x as f64));
        }
    }

    #[test]
    fn the_tutorials_square_is_written_bit_for_bit_as_x_times_x() {
        let keys = crate::rng::Keys::new(&[3], Device::Cpu);
        let xs =
            crate::rng::uniform(&keys.draw(crate::rng::Tag::Real, 0, 1, 4096), -0.5, 0.5).view([4096, 1]);
        let out = xs.zeros_like();
        Target::default().write(&xs, &out);
        assert!(out.equal(&(&xs * &xs)));
        assert_eq!(Target::default().range(), (0.0, 0.25));
    }

    #[test]
    fn built_ins_follow_the_domain() {
        let wide = Domain::new(-2.0, 4.0).unwrap();
        let sine = Target::new(&TargetConfig::given("sine", wide)).unwrap();
        assert_eq!(sine.formula(), "sin(pi*((x - 1)/3))");
        // One full period: 0 at both ends and in the middle, 1 a quarter of the way in.
        for (x, y) in [(-2.0, 0.0), (1.0, 0.0), (-0.5, -1.0), (2.5, 1.0)] {
            assert!((sine.f(x) - y).abs() < 1e-12, "sine({x}) = {}", sine.f(x));
        }
        let gaussian = Target::new(&TargetConfig::given("gaussian", wide)).unwrap();
        assert_eq!(gaussian.f(1.0), 1.0);
        assert!((gaussian.f(-2.0) - (-4.5f64).exp()).abs() < 1e-12);
        assert_eq!(target("sine").unwrap().formula(), "sin(pi*(x/0.5))");
        let multimodal = target("multimodal").unwrap();
        assert!((multimodal.range().0 + 1.0).abs() < 1e-6 && (multimodal.range().1 - 1.0).abs() < 1e-9);
        assert_eq!(target("square").unwrap().f(0.3), 0.3f64.powi(2));
        assert!(target("cube").unwrap().f(-0.5) == -0.125);
        assert!(target("quadratic").unwrap().label().starts_with("quadratic: f(x) = "));
    }

    #[test]
    fn domains_parse_and_refuse_nonsense() {
        assert_eq!("-1,1".parse::<Domain>().unwrap(), Domain::new(-1.0, 1.0).unwrap());
        assert_eq!(" -1 , 2.5 ".parse::<Domain>().unwrap().to_string(), "-1,2.5");
        // The last: apart in float64, one number in float32.
        for bad in ["1,1", "2,1", "1", "a,b", "nan,1", "-inf,0", "0,1e9", "100,100.0000011"] {
            assert!(bad.parse::<Domain>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&Domain::DEFAULT).unwrap();
        assert_eq!(json, "[-0.5,0.5]");
        assert!(serde_json::from_str::<Domain>("[1,0]").is_err());
    }

    #[test]
    fn scaling_round_trips_and_maps_the_data_onto_the_unit_square() {
        let t = Target::new(&TargetConfig::given("sine", Domain::new(0.0, 4.0).unwrap())).unwrap();
        let scaling = Scaling::onto_unit_square(&t);
        assert_eq!(scaling.x, Affine { center: 2.0, half_width: 2.0 });
        assert!((scaling.y.center).abs() < 1e-9 && (scaling.y.half_width - 1.0).abs() < 1e-9);
        let points = Tensor::from_slice(&[0.0f32, -1.0, 4.0, 1.0, 1.0, 0.5]).view([3, 2]);
        let mut model = points.copy();
        scaling.to_model_(&mut model);
        let expected = Tensor::from_slice(&[-1.0f32, -1.0, 1.0, 1.0, -0.5, 0.5]).view([3, 2]);
        assert!(model.allclose(&expected, 1e-6, 1e-6, false), "{model}");
        assert!(scaling.to_data(&model).allclose(&points, 1e-6, 1e-6, false));
        // A constant target keeps its y axis unstretched.
        let flat = Scaling::onto_unit_square(&target("0.2").unwrap());
        assert_eq!(flat.y, Affine { center: 0.2, half_width: 1.0 });
        assert!(Scaling::IDENTITY.is_identity() && Scaling::IDENTITY.validate().is_ok());
        assert!(
            Scaling { x: Affine { center: 0.0, half_width: 0.0 }, ..Scaling::IDENTITY }.validate().is_err()
        );
    }
}
