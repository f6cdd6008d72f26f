//! Where a curve is unbounded between the points of the range check's grid: a pole at
//! `x = 0.12345`, the poles of `tan(1000*x)`. Interval arithmetic gives, for a stretch of the
//! domain, bounds that hold every value `f` takes there; a stretch whose bounds are not within
//! the limit is halved until it holds at most two float32 numbers, the only `x` a run can
//! draw, and `f` is evaluated at those as training evaluates it. A pole is found wherever it
//! lies; a smooth `f` costs a few thousand interval evaluations.

use super::expression::{Function, Node, Operator};

/// Stretches the domain is first cut into.
const CELLS: usize = 4096;
/// Interval evaluations allowed in all: a search that exhausts them trusts the grid.
const BUDGET: usize = 200_000;

/// Bounds `[lo, hi]` on the values of an expression over a stretch of `x`; NaN where it may
/// be undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    lo: f64,
    hi: f64,
}

impl Interval {
    const UNDEFINED: Interval = Interval { lo: f64::NAN, hi: f64::NAN };
    const EVERYTHING: Interval = Interval { lo: f64::NEG_INFINITY, hi: f64::INFINITY };

    fn point(v: f64) -> Interval {
        Interval { lo: v, hi: v }
    }

    /// The interval spanned by `values`; undefined if any is NaN.
    fn hull(values: &[f64]) -> Interval {
        if values.iter().any(|v| v.is_nan()) {
            return Interval::UNDEFINED;
        }
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Interval { lo, hi }
    }

    fn contains(&self, v: f64) -> bool {
        self.lo <= v && v <= self.hi
    }

    fn within(&self, limit: f64) -> bool {
        self.lo >= -limit && self.hi <= limit
    }

    /// `f` applied to an interval on which it is monotone (rising if `rising`).
    fn monotone(self, f: impl Fn(f64) -> f64, rising: bool) -> Interval {
        let (a, b) = (f(self.lo), f(self.hi));
        if rising { Interval::hull(&[a, b]) } else { Interval::hull(&[b, a]) }
    }
}

/// Whether `[lo, hi]` holds a point `c + k·period` for some whole `k`.
fn holds_a_point_of(iv: Interval, c: f64, period: f64) -> bool {
    let k = ((iv.lo - c) / period).ceil();
    c + k * period <= iv.hi
}

impl Function {
    fn enclose(self, a: Interval) -> Interval {
        use std::f64::consts::{FRAC_PI_2, PI, TAU};
        if a.lo.is_nan() || a.hi.is_nan() {
            return Interval::UNDEFINED;
        }
        match self {
            Function::Sin | Function::Cos => {
                let shift = if self == Function::Cos { FRAC_PI_2 } else { 0.0 };
                let s = Interval { lo: a.lo + shift, hi: a.hi + shift };
                if s.hi - s.lo >= TAU || (s.hi - s.lo).is_nan() {
                    return Interval { lo: -1.0, hi: 1.0 };
                }
                let ends = Interval::hull(&[libm::sin(s.lo), libm::sin(s.hi)]);
                Interval {
                    lo: if holds_a_point_of(s, -FRAC_PI_2, TAU) { -1.0 } else { ends.lo },
                    hi: if holds_a_point_of(s, FRAC_PI_2, TAU) { 1.0 } else { ends.hi },
                }
            }
            Function::Tan
                if holds_a_point_of(a, FRAC_PI_2, PI) || a.hi - a.lo >= PI || (a.hi - a.lo).is_nan() =>
            {
                Interval::EVERYTHING
            }
            Function::Tan => a.monotone(libm::tan, true),
            Function::Exp => a.monotone(libm::exp, true),
            Function::Log if a.lo <= 0.0 => Interval::UNDEFINED,
            Function::Log => a.monotone(libm::log, true),
            Function::Sqrt if a.lo < 0.0 => Interval::UNDEFINED,
            Function::Sqrt => a.monotone(f64::sqrt, true),
            Function::Tanh => a.monotone(libm::tanh, true),
            Function::Abs if a.contains(0.0) => Interval { lo: 0.0, hi: a.lo.abs().max(a.hi.abs()) },
            Function::Abs => Interval::hull(&[a.lo.abs(), a.hi.abs()]),
        }
    }
}

/// `a^b` for a constant exponent `b`.
fn power(a: Interval, b: f64) -> Interval {
    let whole = b.fract() == 0.0;
    if whole && b == 0.0 {
        return Interval::point(1.0);
    }
    if b < 0.0 && a.contains(0.0) {
        return Interval::EVERYTHING;
    }
    if !whole && a.lo < 0.0 {
        return Interval::UNDEFINED;
    }
    let p = |v: f64| libm::pow(v, b);
    // An even power falls then rises through 0; any other is monotone on each side of 0.
    let even = whole && (b / 2.0).fract() == 0.0;
    if even && a.contains(0.0) {
        let top = p(a.lo).max(p(a.hi));
        return if b > 0.0 { Interval { lo: 0.0, hi: top } } else { Interval::EVERYTHING };
    }
    Interval::hull(&[p(a.lo), p(a.hi)])
}

impl Node {
    /// Bounds on this expression's values for `x` in `x`.
    fn enclose(&self, x: Interval) -> Interval {
        match self {
            Node::X => x,
            Node::Number(c) => Interval::point(*c),
            Node::Neg(a) => {
                let a = a.enclose(x);
                Interval { lo: -a.hi, hi: -a.lo }
            }
            Node::Call(f, a) => f.enclose(a.enclose(x)),
            Node::Binary(op, a, b) => {
                let (a, b) = (a.enclose(x), b.enclose(x));
                match op {
                    Operator::Add => Interval::hull(&[a.lo + b.lo, a.hi + b.hi]),
                    Operator::Sub => Interval::hull(&[a.lo - b.hi, a.hi - b.lo]),
                    Operator::Mul => Interval::hull(&[a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]),
                    Operator::Div if b.contains(0.0) || b.lo.is_nan() => Interval::EVERYTHING,
                    Operator::Div => Interval::hull(&[a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi]),
                    Operator::Pow if b.lo == b.hi => power(a, b.lo),
                    // A power whose exponent varies: bounded only for a positive base.
                    Operator::Pow if a.lo > 0.0 => Interval::hull(&[
                        libm::pow(a.lo, b.lo),
                        libm::pow(a.lo, b.hi),
                        libm::pow(a.hi, b.lo),
                        libm::pow(a.hi, b.hi),
                    ]),
                    Operator::Pow => Interval::UNDEFINED,
                }
            }
        }
    }
}

/// An `x` in `[low, high]` where `at(x)` (the curve as training evaluates it at a float32
/// `x`) is not finite or beyond `limit`, if there is one that the grid's points missed.
pub(super) fn unbounded_at(
    root: &Node,
    low: f64,
    high: f64,
    limit: f64,
    at: impl Fn(f32) -> f64,
) -> Option<f64> {
    let mut budget = BUDGET;
    let step = (high - low) / CELLS as f64;
    (0..CELLS).find_map(|i| {
        let a = low + step * i as f64;
        let b = if i + 1 == CELLS { high } else { low + step * (i + 1) as f64 };
        search(root, a, b, limit, &at, &mut budget)
    })
}

fn search(
    root: &Node,
    a: f64,
    b: f64,
    limit: f64,
    at: &impl Fn(f32) -> f64,
    budget: &mut usize,
) -> Option<f64> {
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    if root.enclose(Interval { lo: a, hi: b }).within(limit) {
        return None;
    }
    // The float32 numbers in [a, b]; with two or fewer, the search is down to single points.
    let first = next_f32_at_or_above(a);
    let second = next_f32_at_or_above(f64::from(first).next_up());
    if f64::from(second).next_up() > b || f64::from(second) > b {
        return [first, second].into_iter().filter(|&x| f64::from(x) <= b).find_map(|x| {
            let y = at(x);
            (!y.is_finite() || y.abs() > limit).then_some(f64::from(x))
        });
    }
    let middle = a + (b - a) / 2.0;
    search(root, a, middle, limit, at, budget).or_else(|| search(root, middle, b, limit, at, budget))
}

/// The smallest float32 number at or above `v`.
fn next_f32_at_or_above(v: f64) -> f32 {
    let x = v as f32;
    if f64::from(x) >= v { x } else { x.next_up() }
}

#[cfg(test)]
mod tests {
    use super::super::expression::parse;
    use super::*;

    fn pole(text: &str, low: f64, high: f64) -> Option<f64> {
        let root = parse(text).unwrap();
        unbounded_at(&root, low, high, 1e6, |x| root.eval(f64::from(x)))
    }

    #[test]
    fn poles_between_grid_points_are_found() {
        let at = pole("1/(x-0.12345)", -1.0, 1.0).expect("a pole at 0.12345");
        assert!((at - 0.12345).abs() < 1e-6, "{at}");
        // Found where it first exceeds the limit, a millionth from the pole.
        let at = pole("1/(x+1e-6)", -1.0, 1.0).expect("a pole at -1e-6");
        assert!((at + 1e-6).abs() <= 1e-6 && (1.0 / (at + 1e-6)).abs() > 1e6, "{at}");
        let at = pole("tan(1000*x)", -1.0, 1.0).expect("poles of tan");
        let cycles = (at * 1000.0 - std::f64::consts::FRAC_PI_2) / std::f64::consts::PI;
        assert!((cycles - cycles.round()).abs() < 1e-3, "{at}");
        assert!(pole("log(x)", -1.0, 1.0).is_some());
        assert!(pole("x^-2", -0.3, 0.5).is_some());
    }

    #[test]
    fn bounded_curves_pass() {
        for text in [
            "x^2",
            "sin(pi*x)",
            "exp(-4.5*x^2)",
            "32*x^6 - 48*x^4 + 18*x^2 - 1",
            "1/(1+x^2)",
            "tan(x)",
            "sqrt(abs(x))",
            "1/(x-3)",
            "x^x",
            "999999*cos(50*x)",
        ] {
            assert_eq!(pole(text, 0.0, 1.0), None, "{text}");
        }
        assert_eq!(pole("1/(x-0.12345)", 0.2, 1.0), None);
    }
}
