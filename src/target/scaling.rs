//! How points are scaled between the data's axes and the networks' `[-1, 1]` axes.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::Target;

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
