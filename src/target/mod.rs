//! What a run learns: a curve `y = f(x)` on a domain `[LO, HI)`, or a distribution of points
//! in the plane (`plane`: mixtures, moons, a spiral, a user's points). [`Target`] owns it. A
//! curve comes in two forms that agree, a tensor form for training (evaluated on the training
//! device, one libtorch call per operator) and a scalar `f64` form for the metrics and plots;
//! it knows its domain and the range of `f` over it. Every target knows the box that holds
//! its points, and [`Scaling`] maps points between the data's axes and the `[-1, 1]` axes a
//! tanh generator works in.
//!
//! Built-in names (`sine`, …) are shortcuts for expressions written in the domain's own
//! coordinates. The parts: `domain.rs` (the interval), `expression.rs` (the parser),
//! `evaluation.rs` (the evaluators), `plane.rs` (the targets in the plane), `scaling.rs` (the
//! axes' maps); this file ties them into [`Target`].

mod domain;
mod evaluation;
mod expression;
mod interval;
pub mod plane;
mod scaling;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::limits;
pub use domain::Domain;
use evaluation::Value;
use expression::{Node, Operator, parse};
use plane::{DataSet, Plane};
pub use scaling::{Affine, PLANE_MARGIN, Scaling, ScalingTensors};

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

/// Points at which [`Target::new`] evaluates `f` to find its range and check it is finite.
const RANGE_GRID: usize = 100_001;

/// The largest `|f(x)|` a target may reach: beyond it float32 training loses its precision.
const MAX_VALUE: f64 = 1e6;

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
        TargetConfig {
            expression: crate::target::plane::DATA.to_string(),
            domain: Domain::DEFAULT,
            data: Some(set),
        }
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
        let step = (domain.high() - domain.low()) / (RANGE_GRID - 1) as f64;
        for i in 0..RANGE_GRID {
            let x = domain.low() + step * i as f64;
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
        // Between the grid's points: a pole the grid stepped over.
        let at = |x: f32| root.eval(f64::from(x));
        if let Some(x) = interval::unbounded_at(&root, domain.low(), domain.high(), MAX_VALUE, at) {
            bail!(
                "--target `{text}` reaches f = {} at x = {x}, between the points the range check tried (a pole, \
                 or a value beyond ±{MAX_VALUE:e}); choose a --domain without it",
                root.eval(x)
            );
        }
        // Training computes in float32, where an intermediate value can overflow that double
        // precision holds (exp(100·x) / exp(100·x)): check that form on the same grid too.
        let grid =
            Tensor::linspace(domain.low(), domain.high(), RANGE_GRID as i64, (Kind::Float, Device::Cpu));
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
                Domain::extent(low, high)
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
        (d.low(), d.high(), low, high)
    }

    /// Random words of a draw that one real point takes.
    pub fn words_per_point(&self) -> i64 {
        if self.plane().is_some() { crate::target::plane::WORDS_PER_POINT } else { 1 }
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
        let step = (d.high() - d.low()) / (n - 1) as f64;
        (0..n).map(|i| d.low() + step * i as f64).map(|x| (x, self.f(x))).collect()
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
        assert!(
            error("rings").contains("a distribution in the plane (ring, grid, moons, spiral) is named alone")
        );
        let e = error("SINE");
        assert!(
            e.contains("(names are lowercase: `sine`)") && e.contains("a built-in curve (square, cube, sine"),
            "{e}"
        );
        let e = error("x + foo(x)");
        assert!(e.contains("`foo` at character 5 is not a function"), "{e}");
        let e = error("sin + 1");
        assert!(e.contains("`sin` at character 1 is a function: write sin(…)"), "{e}");
        assert!(error("").contains("at character 1"));
        assert!(!error("(((").contains('\n'));
    }

    #[test]
    fn poles_between_the_grids_points_are_refused() {
        let on = |expression: &str, low: f64, high: f64| {
            let config = TargetConfig::given(expression, Domain::new(low, high).unwrap());
            Target::new(&config).err().map(|e| format!("{e:#}"))
        };
        for expression in ["1/(x-0.12345)", "tan(1000*x)", "1/(x+1e-6)"] {
            let e = on(expression, -1.0, 1.0).unwrap_or_else(|| panic!("{expression} was accepted"));
            assert!(e.contains("between the points the range check tried"), "{e}");
        }
        assert_eq!(on("1/(x-0.12345)", 0.2, 1.0), None);
        assert_eq!(on("tan(x)", -1.0, 1.0), None);
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
