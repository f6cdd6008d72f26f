//! A curve's domain: the interval `[LO, HI)` its `x` is drawn from, checked as float32 keeps it.

use serde::{Deserialize, Serialize};

use crate::config::limits;

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

    /// The x extent `[low, high)` of a plane target's box, which gan1d computed itself.
    pub(super) fn extent(low: f64, high: f64) -> Domain {
        Domain { low, high }
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
