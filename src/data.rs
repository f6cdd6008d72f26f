//! The data: the target function, its input domain, real samples and latent points.
//! Random numbers come from libtorch's generator on the tensors' device, seeded once per run.
//! This module never sees a model or an optimiser.

use tch::{Device, Kind, Tensor};

/// The function the generator must learn: the tutorial's `x²`.
pub fn target(x: f64) -> f64 {
    x * x
}

/// Real inputs are drawn uniformly from `[DOMAIN_LOW, DOMAIN_HIGH)`, the tutorial's
/// `rand(n) - 0.5`.
pub const DOMAIN_LOW: f64 = -0.5;
pub const DOMAIN_HIGH: f64 = 0.5;

/// `n` points of the target curve at evenly spaced inputs across the domain, for drawing it.
pub fn curve(n: usize) -> Vec<(f64, f64)> {
    let step = (DOMAIN_HIGH - DOMAIN_LOW) / (n.max(2) - 1) as f64;
    (0..n.max(2)).map(|i| DOMAIN_LOW + step * i as f64).map(|x| (x, target(x))).collect()
}

/// A reusable buffer of real points `(x, x²)`, refilled in place so the training loop neither
/// allocates nor re-creates views.
#[derive(Debug)]
pub struct RealBatch {
    points: Tensor, // [n, 2]
    xs: Tensor,     // [n, 1], a view of column 0
    ys: Tensor,     // [n, 1], a view of column 1
}

impl RealBatch {
    pub fn new(n: i64, device: Device) -> Self {
        let points = Tensor::zeros([n, 2], (Kind::Float, device));
        let xs = points.narrow(1, 0, 1);
        let ys = points.narrow(1, 1, 1);
        RealBatch { points, xs, ys }
    }

    /// Draws fresh points and returns them.
    ///
    /// # Shapes
    /// returns `[n, 2]`
    pub fn fill(&mut self) -> &Tensor {
        let _ = self.xs.uniform_(DOMAIN_LOW, DOMAIN_HIGH);
        // The target x², written as a product so it stays one libtorch call.
        let _ = self.xs.mul_out(&self.ys, &self.xs);
        &self.points
    }
}

/// `n` fresh real points, `[n, 2]`.
pub fn real_points(n: i64, device: Device) -> Tensor {
    let mut batch = RealBatch::new(n, device);
    batch.fill().shallow_clone()
}

/// `n` real points from a host-side random stream: for reference sets that must not disturb
/// libtorch's stream, which the training run owns.
pub fn real_pairs(n: usize, rng: &mut impl rand::Rng) -> Vec<(f32, f32)> {
    (0..n)
        .map(|_| {
            let x = rng.random_range(DOMAIN_LOW as f32..DOMAIN_HIGH as f32);
            (x, x * x)
        })
        .collect()
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
        let pairs = to_pairs(&real_points(1000, Device::Cpu));
        assert_eq!(pairs.len(), 1000);
        for (x, y) in pairs {
            assert!((DOMAIN_LOW as f32..DOMAIN_HIGH as f32).contains(&x), "{x}");
            assert_eq!(y, x * x);
        }
    }

    #[test]
    fn real_batch_draws_new_points_each_time() {
        let _rng = crate::rng_lock();
        tch::manual_seed(4);
        let mut batch = RealBatch::new(64, Device::Cpu);
        let first = batch.fill().copy();
        let second = batch.fill().copy();
        assert_ne!(to_pairs(&first), to_pairs(&second));
    }

    #[test]
    fn host_side_real_pairs_are_on_the_curve_and_seeded() {
        use rand::SeedableRng;
        let draw = |seed| real_pairs(50, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        assert!(draw(3).iter().all(|&(x, y)| (-0.5..0.5).contains(&x) && y == x * x));
    }

    #[test]
    fn curve_spans_the_domain() {
        let c = curve(11);
        assert_eq!(c.first().unwrap().0, -0.5);
        assert!((c.last().unwrap().0 - 0.5).abs() < 1e-12);
        assert!((c[3].1 - 0.04).abs() < 1e-12);
    }
}
