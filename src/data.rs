//! The data: real samples of the run's target and latent points. Random numbers come from
//! libtorch's generator on the tensors' device, seeded by the training loop. The target itself
//! lives in `target`; this module never sees a model or an optimiser.

use tch::{Device, Kind, Tensor};

use crate::target::{Scaling, ScalingTensors, Target};

/// A reusable buffer of real points `(x, f(x))`, refilled in place so the training loop neither
/// allocates nor re-creates views. Points are on the networks' axes: scaled, if the run scales.
#[derive(Debug)]
pub struct RealBatch {
    points: Tensor, // [n, 2]
    xs: Tensor,     // [n, 1], a view of column 0
    ys: Tensor,     // [n, 1], a view of column 1
    target: Target,
    /// The scaling onto the networks' axes, made once on the device; `None` for none.
    scaling: Option<ScalingTensors>,
}

impl RealBatch {
    pub fn new(target: &Target, scaling: Scaling, n: i64, device: Device) -> Self {
        let points = Tensor::zeros([n, 2], (Kind::Float, device));
        let xs = points.narrow(1, 0, 1);
        let ys = points.narrow(1, 1, 1);
        RealBatch { points, xs, ys, target: target.clone(), scaling: scaling.on(device) }
    }

    /// Draws fresh points: `x` uniform over the domain, `y = f(x)`, then scaled. Returns them.
    ///
    /// # Shapes
    /// returns `[n, 2]`
    pub fn fill(&mut self) -> &Tensor {
        let domain = self.target.domain();
        let _ = self.xs.uniform_(domain.low(), domain.high());
        self.target.write(&self.xs, &self.ys);
        if let Some(scaling) = &self.scaling {
            scaling.to_model_(&mut self.points);
        }
        &self.points
    }
}

/// `n` fresh real points on the networks' axes, `[n, 2]`.
pub fn real_points(target: &Target, scaling: Scaling, n: i64, device: Device) -> Tensor {
    let mut batch = RealBatch::new(target, scaling, n, device);
    batch.fill().shallow_clone()
}

/// `n` fresh latent points, `[n, latent_dim]`, each coordinate `N(0, 1)`.
pub fn latent_points(n: i64, latent_dim: i64, device: Device) -> Tensor {
    Tensor::randn([n, latent_dim], (Kind::Float, device))
}

/// Copies a `[n, 2]` tensor of points to the host as `(x, y)` pairs.
pub fn to_pairs(points: &Tensor) -> Vec<(f32, f32)> {
    let flat: Vec<f32> = Vec::try_from(points.to_device(Device::Cpu).contiguous().view([-1]))
        .expect("a float tensor converts to Vec<f32>");
    flat.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_points_lie_on_the_parabola_inside_the_domain() {
        let _rng = crate::rng_lock();
        tch::manual_seed(3);
        let pairs = to_pairs(&real_points(&Target::default(), Scaling::IDENTITY, 1000, Device::Cpu));
        assert_eq!(pairs.len(), 1000);
        for (x, y) in pairs {
            assert!((-0.5..0.5).contains(&x), "{x}");
            assert_eq!(y, x * x);
        }
    }

    #[test]
    fn scaled_real_points_fill_the_unit_square() {
        let _rng = crate::rng_lock();
        tch::manual_seed(5);
        let config =
            crate::target::TargetConfig { expression: "sine".into(), domain: "-1,3".parse().unwrap() };
        let target = Target::new(&config).unwrap();
        let scaling = Scaling::onto_unit_square(&target);
        let pairs = to_pairs(&real_points(&target, scaling, 2000, Device::Cpu));
        let (xs, ys): (Vec<f32>, Vec<f32>) = pairs.iter().copied().unzip();
        let span = |v: &[f32]| {
            (
                v.iter().copied().fold(f32::INFINITY, f32::min),
                v.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            )
        };
        let ((x0, x1), (y0, y1)) = (span(&xs), span(&ys));
        assert!((-1.0..-0.99).contains(&x0) && (0.99..1.0).contains(&x1), "x in [{x0}, {x1}]");
        assert!((-1.0001..-0.99).contains(&y0) && (0.99..=1.0001).contains(&y1), "y in [{y0}, {y1}]");
        // Scaled back, they are on the curve.
        let back = to_pairs(&scaling.to_data(&real_points(&target, scaling, 100, Device::Cpu)));
        assert!(back.iter().all(|&(x, y)| (y as f64 - target.f(x as f64)).abs() < 1e-5));
    }

    #[test]
    fn real_batch_draws_new_points_each_time() {
        let _rng = crate::rng_lock();
        tch::manual_seed(4);
        let mut batch = RealBatch::new(&Target::default(), Scaling::IDENTITY, 64, Device::Cpu);
        let first = batch.fill().copy();
        let second = batch.fill().copy();
        assert_ne!(to_pairs(&first), to_pairs(&second));
    }

    #[test]
    fn host_side_real_pairs_are_on_the_curve_and_seeded() {
        use rand::SeedableRng;
        let target = Target::default();
        let draw = |seed| target.real_pairs(50, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        assert!(draw(3).iter().all(|&(x, y)| (-0.5..0.5).contains(&x) && y == x * x));
    }

    #[test]
    fn curve_spans_the_domain() {
        let c = Target::default().curve(11);
        assert_eq!(c.first().unwrap().0, -0.5);
        assert!((c.last().unwrap().0 - 0.5).abs() < 1e-12);
        assert!((c[3].1 - 0.04).abs() < 1e-12);
    }
}
