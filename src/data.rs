//! The data: real samples of the run's target and latent points. A run's own draws come from
//! its counter-based stream (`rng`): [`TrainingDraws`] for the iterations, [`EvalDraws`] for
//! the evaluations, [`metric_latent`] for the metrics' fixed batch, each for K runs at once.
//! The commands' own draws ([`real_points`], [`latent_points`], [`uniform_points`]) come from
//! the same stream under tags of their own, keyed by the command's `--seed`: nothing draws
//! from libtorch's global generator. The target itself lives in `target`; this module never
//! sees a model or an optimiser.

use tch::{Device, Kind, Tensor};

use crate::config::{Latent, ModelConfig, TrainConfig};
use crate::rng::{self, Keys, Tag};
use crate::target::{Scaling, ScalingTensors, Target};

/// Numbers drawn at once for a chunk of iterations, at most: large enough that the per-call
/// cost of the stream vanishes, small enough to stay in cache.
const CHUNK_NUMBERS: i64 = 1 << 17;
/// Iterations drawn at once, at most.
const MAX_CHUNK: i64 = 64;

/// One iteration's random batches for K runs, on the networks' axes.
#[derive(Debug)]
pub struct IterationBatches {
    /// `[K, d_steps · half_batch, 2]`
    pub real: Tensor,
    /// `[K, d_steps · half_batch, latent_dim]`
    pub latent_half: Tensor,
    /// `[K, batch, latent_dim]`
    pub latent_full: Tensor,
    /// For a penalty that draws its points: `[K, d_steps · half_batch, 3]`, uniform on [0, 1).
    pub penalty: Option<Tensor>,
}

/// The training iterations' random batches of K runs: each a pure function of the run's seed
/// and the iteration, drawn a chunk of iterations at a time and handed out one iteration at a
/// time. The real points' `x` is uniform over the domain, `y = f(x)`, then scaled; the latent
/// points are `N(0, 1)` (or `U(−1, 1)`). With `d_steps` discriminator rounds, the real points
/// and the discriminator's latent points are `d_steps` half batches in one draw each.
#[derive(Debug)]
pub struct TrainingDraws {
    keys: Keys,
    target: Target,
    /// The scaling onto the networks' axes, made once on the device; `None` for none.
    scaling: Option<ScalingTensors>,
    /// Points of the discriminator's rounds: `d_steps · half_batch`.
    half_batch: i64,
    /// Words of the draw each real point takes.
    words: i64,
    batch: i64,
    latent_dim: i64,
    latent: Latent,
    /// Iterations per chunk.
    chunk: i64,
    /// Threads that draw a chunk's members on the CPU.
    threads: usize,
    /// The scaling, for the host's draws.
    plain_scaling: Scaling,
    /// Whether the run's penalty draws its points.
    penalty: bool,
    /// The first iteration of the chunk held, and the chunk: `[K, T, half_batch, 2]`,
    /// `[K, T, half_batch, latent_dim]`, `[K, T, batch, latent_dim]`.
    held: Option<(u64, IterationBatches)>,
}

impl TrainingDraws {
    /// The draws of `cfg`'s runs of `model_cfg`, one per seed.
    pub fn new(
        seeds: &[u64],
        target: &Target,
        scaling: Scaling,
        model_cfg: &ModelConfig,
        cfg: &TrainConfig,
        device: Device,
    ) -> Self {
        let (batch, latent_dim) = (cfg.batch, model_cfg.latent_dim);
        let half_batch = cfg.half_batch() * cfg.d_steps as i64;
        let per_iteration =
            seeds.len() as i64 * (half_batch * target.words_per_point() + batch) * (latent_dim + 1);
        TrainingDraws {
            keys: Keys::new(seeds, device),
            target: target.clone(),
            scaling: scaling.on(device),
            half_batch,
            words: target.words_per_point(),
            batch,
            latent_dim,
            latent: model_cfg.latent,
            chunk: (CHUNK_NUMBERS / per_iteration).clamp(1, MAX_CHUNK),
            threads: 1,
            plain_scaling: scaling,
            penalty: cfg.penalty.draws(),
            held: None,
        }
    }

    /// Draws a chunk's members on `threads` CPU threads; the numbers do not change.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The batches of the 0-based `iteration`: views into the chunk that holds it.
    pub fn at(&mut self, iteration: u64) -> IterationBatches {
        let held =
            |(first, _): &(u64, IterationBatches)| (*first..*first + self.chunk as u64).contains(&iteration);
        if !self.held.as_ref().is_some_and(held) {
            self.held = Some((iteration, self.draw_chunk(iteration)));
        }
        let (first, chunk) = self.held.as_ref().expect("the chunk was just drawn");
        let t = (iteration - first) as i64;
        IterationBatches {
            real: chunk.real.select(1, t),
            latent_half: chunk.latent_half.select(1, t),
            latent_full: chunk.latent_full.select(1, t),
            penalty: chunk.penalty.as_ref().map(|p| p.select(1, t)),
        }
    }

    fn draw_chunk(&self, first: u64) -> IterationBatches {
        let mut batches = if self.keys.device() == Device::Cpu {
            self.draw_chunk_on_host(first)
        } else {
            self.draw_chunk_by_tensors(first)
        };
        batches.penalty = self.penalty.then(|| self.penalty_chunk(first));
        batches
    }

    /// A penalty's uniform numbers for the chunk from `first`: its own draw, so that no other
    /// number of the run changes with it. Scaling a word's 24 bits onto [0, 1) is exact, so
    /// libtorch computes the same bits on every CPU.
    fn penalty_chunk(&self, first: u64) -> Tensor {
        let per_point = crate::penalty::DRAWS_PER_POINT;
        let numbers = self.keys.draw(Tag::Penalty, first, self.chunk, self.half_batch * per_point);
        rng::uniform(&numbers, 0.0, 1.0).view([self.keys.len(), self.chunk, self.half_batch, per_point])
    }

    /// [`TrainingDraws::draw_chunk`] by tensor operations on the keys' device.
    fn draw_chunk_by_tensors(&self, first: u64) -> IterationBatches {
        let (half, full, dim) = (self.half_batch, self.batch, self.latent_dim);
        let numbers = self.keys.draws(
            &[
                (Tag::Real, half * self.words),
                (Tag::LatentHalf, rng::even(half * dim)),
                (Tag::LatentFull, rng::even(full * dim)),
            ],
            first,
            self.chunk,
        );
        let (k, t) = (self.keys.len(), self.chunk);
        let real = real_from(&numbers[0], &self.target, self.scaling.as_ref());
        let latent = |numbers: &Tensor, n: i64| {
            latent_from(numbers, self.latent).narrow(2, 0, n * dim).view([k, t, n, dim])
        };
        IterationBatches {
            real: real.view([k, t, half, 2]),
            latent_half: latent(&numbers[1], half),
            latent_full: latent(&numbers[2], full),
            penalty: None,
        }
    }
}

impl TrainingDraws {
    /// [`TrainingDraws::draw_chunk`] on the CPU: each member's numbers computed on the host, by
    /// the same float32 operations in the same order as the tensor form, members spread over
    /// the threads.
    fn draw_chunk_on_host(&self, first: u64) -> IterationBatches {
        let (half, full, dim) = (self.half_batch as usize, self.batch as usize, self.latent_dim as usize);
        let (k, t) = (self.keys.len(), self.chunk);
        let sizes = [half * 2, half * dim, full * dim].map(|n| n * t as usize);
        let mut all = sizes.map(|n| vec![0f32; n * k as usize]);
        let [real, latent_half, latent_full] = &mut all;
        let mut members: Vec<(u64, [&mut [f32]; 3])> = self
            .keys
            .seeds()
            .iter()
            .copied()
            .zip(
                real.chunks_exact_mut(sizes[0])
                    .zip(latent_half.chunks_exact_mut(sizes[1]))
                    .zip(latent_full.chunks_exact_mut(sizes[2])),
            )
            .map(|(seed, ((a, b), c))| (seed, [a, b, c]))
            .collect();
        let plan = HostDraw {
            target: &self.target,
            words: self.words,
            scaling: self.plain_scaling,
            half: self.half_batch,
            full: self.batch,
            dim: self.latent_dim,
            latent: self.latent,
            chunk: self.chunk,
        };
        let draw = |(seed, out): &mut (u64, [&mut [f32]; 3])| plan.member(*seed, first, out);
        let per_thread = members.len().div_ceil(self.threads.min(members.len()).max(1));
        if self.threads <= 1 || members.len() == 1 {
            members.iter_mut().for_each(draw);
        } else {
            std::thread::scope(|s| {
                for chunk in members.chunks_mut(per_thread) {
                    s.spawn(move || chunk.iter_mut().for_each(draw));
                }
            });
        }
        let [real, latent_half, latent_full] = all;
        let (half, full, dim) = (half as i64, full as i64, dim as i64);
        IterationBatches {
            real: Tensor::from_slice(&real).view([k, t, half, 2]),
            latent_half: Tensor::from_slice(&latent_half).view([k, t, half, dim]),
            latent_full: Tensor::from_slice(&latent_full).view([k, t, full, dim]),
            penalty: None,
        }
    }
}

/// What a member's draws on the host need: plain values that threads can share.
struct HostDraw<'a> {
    target: &'a Target,
    words: i64,
    scaling: Scaling,
    half: i64,
    full: i64,
    dim: i64,
    latent: Latent,
    chunk: i64,
}

impl HostDraw<'_> {
    /// One member's chunk of batches, written into `out` (real points, latent halves, latent
    /// fulls; the chunk's iterations one after another).
    fn member(&self, seed: u64, first: u64, out: &mut [&mut [f32]; 3]) {
        let (half, full, dim) = (self.half, self.full, self.dim);
        let draws = [
            (Tag::Real, half * self.words),
            (Tag::LatentHalf, rng::even(half * dim)),
            (Tag::LatentFull, rng::even(full * dim)),
        ];
        let words = rng::host_words(seed, &draws, first, self.chunk);
        let offsets = rng::host_offsets(&draws);
        let per_row = words.len() / self.chunk as usize;
        let domain = self.target.domain();
        let scaling = (!self.scaling.is_identity()).then_some(self.scaling);
        let (center, half_width) = match scaling {
            Some(s) => {
                ([s.x.center as f32, s.y.center as f32], [s.x.half_width as f32, s.y.half_width as f32])
            }
            None => ([0.0; 2], [1.0; 2]),
        };
        let (half, dim) = (half as usize, dim as usize);
        let mut normals = Vec::new();
        let per_point = self.words as usize;
        for (t, row) in words.chunks_exact(per_row).enumerate() {
            let numbers = &row[offsets[0]..offsets[0] + half * per_point];
            let points = &mut out[0][t * half * 2..(t + 1) * half * 2];
            for (point, numbers) in points.chunks_exact_mut(2).zip(numbers.chunks_exact(per_point)) {
                let mut p = match self.target.plane() {
                    Some(plane) => plane.point(numbers).into(),
                    None => {
                        let x = rng::host_uniform(numbers[0], domain.low(), domain.high());
                        [x, self.target.at_f32(x)]
                    }
                };
                if scaling.is_some() {
                    for axis in 0..2 {
                        p[axis] = (p[axis] - center[axis]) / half_width[axis];
                    }
                }
                point.copy_from_slice(&p);
            }
            for (which, n) in [(1usize, half), (2, full as usize)] {
                let count = rng::even((n * dim) as i64) as usize;
                let numbers = &row[offsets[which]..offsets[which] + count];
                normals.resize(count, 0.0);
                match self.latent {
                    Latent::Normal => rng::host_normals(numbers, &mut normals),
                    Latent::Uniform => {
                        for (out, &number) in normals.iter_mut().zip(numbers) {
                            *out = rng::host_uniform(number, -1.0, 1.0);
                        }
                    }
                }
                out[which][t * n * dim..(t + 1) * n * dim].copy_from_slice(&normals[..n * dim]);
            }
        }
    }
}

/// Real points `[…, n, 2]` from a draw's numbers `[…, n · words_per_point]`: for a curve, `x`
/// uniform over the domain, `y = f(x)`; for a plane target, its points (computed on the host
/// from the words, as `TrainingDraws` does there); then scaled.
fn real_from(numbers: &Tensor, target: &Target, scaling: Option<&ScalingTensors>) -> Tensor {
    let mut shape = numbers.size();
    if let Some(plane) = target.plane() {
        let last = shape.len() - 1;
        shape[last] /= target.words_per_point();
        shape.push(2);
        let words: Vec<f32> = Vec::try_from(numbers.to_device(Device::Cpu).contiguous().view([-1]))
            .expect("a draw's words convert to Vec<f32>");
        let flat: Vec<f32> = words
            .chunks_exact(target.words_per_point() as usize)
            .flat_map(|w| <[f32; 2]>::from(plane.point(w)))
            .collect();
        let mut points = Tensor::from_slice(&flat).view(shape.as_slice()).to_device(numbers.device());
        if let Some(scaling) = scaling {
            scaling.to_model_(&mut points);
        }
        return points;
    }
    let domain = target.domain();
    shape.push(2);
    let mut points = Tensor::empty(shape.as_slice(), (Kind::Float, numbers.device()));
    let xs = points.narrow(-1, 0, 1);
    xs.squeeze_dim(-1).copy_(&rng::uniform(numbers, domain.low(), domain.high()));
    target.write(&xs, &points.narrow(-1, 1, 1));
    if let Some(scaling) = scaling {
        scaling.to_model_(&mut points);
    }
    points
}

/// An evaluation's fresh random points for K runs: `n` real points `[K, n, 2]` on the networks'
/// axes and `n` latent points `[K, n, latent_dim]` of `model_cfg`, drawn at the evaluation's
/// iteration.
pub fn eval_draws(
    keys: &Keys,
    target: &Target,
    scaling: Scaling,
    n: i64,
    model_cfg: &ModelConfig,
    iteration: u64,
) -> (Tensor, Tensor) {
    (
        real_points(keys, Tag::EvalReal, iteration, target, scaling, n),
        latent_points(keys, Tag::EvalLatent, iteration, n, model_cfg),
    )
}

/// The fixed latent batch the metrics of K runs measure: `[K, n, latent_dim]`.
pub fn metric_latent(keys: &Keys, n: i64, model_cfg: &ModelConfig) -> Tensor {
    latent_points(keys, Tag::MetricLatent, 0, n, model_cfg)
}

/// `n` real points of K runs on the networks' axes, `[K, n, 2]`: the draw `tag` at `counter`.
pub fn real_points(keys: &Keys, tag: Tag, counter: u64, target: &Target, scaling: Scaling, n: i64) -> Tensor {
    let numbers = keys.draw(tag, counter, 1, n * target.words_per_point()).squeeze_dim(1);
    real_from(&numbers, target, scaling.on(keys.device()).as_ref())
}

/// `n` latent points of K runs for the generator of `model_cfg`, `[K, n, latent_dim]`, each
/// coordinate `N(0, 1)` (or `U(−1, 1)`): the draw `tag` at `counter`.
pub fn latent_points(keys: &Keys, tag: Tag, counter: u64, n: i64, model_cfg: &ModelConfig) -> Tensor {
    let latent_dim = model_cfg.latent_dim;
    let numbers = keys.draw(tag, counter, 1, rng::even(n * latent_dim)).squeeze_dim(1);
    latent_from(&numbers, model_cfg.latent).narrow(1, 0, n * latent_dim).view([keys.len(), n, latent_dim])
}

/// Latent coordinates of `latent`'s distribution from a draw's numbers (an even count).
fn latent_from(numbers: &Tensor, latent: Latent) -> Tensor {
    match latent {
        Latent::Normal => rng::normal(numbers),
        Latent::Uniform => rng::uniform(numbers, -1.0, 1.0),
    }
}

/// `n` points of K runs uniform in `[low, high)²`, `[K, n, 2]`: the draw `tag` at `counter`.
pub fn uniform_points(keys: &Keys, tag: Tag, counter: u64, n: i64, low: f64, high: f64) -> Tensor {
    rng::uniform(&keys.draw(tag, counter, 1, 2 * n).squeeze_dim(1), low, high).view([keys.len(), n, 2])
}

/// `n` real points on the data's axes, the draw `tag` of `seed`'s stream at `counter`, on the
/// CPU: the fixed sets of real points that metrics and pictures compare against, each from a
/// tagged stream of its own, so that none disturbs another or the training draws.
pub fn reference_pairs(seed: u64, tag: Tag, counter: u64, target: &Target, n: usize) -> Vec<(f32, f32)> {
    let keys = Keys::new(&[seed], Device::Cpu);
    to_pairs(&real_points(&keys, tag, counter, target, Scaling::IDENTITY, n as i64).get(0))
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

    /// The host's draws are the tensor form's, bit for bit, for any target, scaling, member
    /// and thread count.
    fn shapes(batch: i64, latent_dim: i64, d_steps: u64, latent: Latent) -> (ModelConfig, TrainConfig) {
        (
            ModelConfig { latent_dim, latent, ..ModelConfig::default() },
            TrainConfig { batch, d_steps, ..TrainConfig::default() },
        )
    }

    #[test]
    fn the_hosts_training_draws_are_the_tensor_forms() {
        for (expression, domain, tanh, d_steps, latent) in [
            ("x^2", "-0.5,0.5", false, 1, Latent::Normal),
            ("sine", "-1,3", true, 3, Latent::Uniform),
            ("gaussian", "-2,2", false, 2, Latent::Normal),
            ("ring", "-0.5,0.5", true, 1, Latent::Normal),
            ("grid:3", "-0.5,0.5", false, 2, Latent::Uniform),
        ] {
            let config = crate::target::TargetConfig::given(expression, domain.parse().unwrap());
            let target = Target::new(&config).unwrap();
            let scaling = if tanh { Scaling::onto_unit_square(&target) } else { Scaling::IDENTITY };
            let (model_cfg, cfg) = shapes(10, 3, d_steps, latent);
            let mut draws =
                TrainingDraws::new(&[4, 1 << 33, 9], &target, scaling, &model_cfg, &cfg, Device::Cpu);
            for threads in [1, 2] {
                draws.set_threads(threads);
                let (host, tensors) = (draws.draw_chunk_on_host(70), draws.draw_chunk_by_tensors(70));
                for (a, b) in [
                    (&host.real, &tensors.real),
                    (&host.latent_half, &tensors.latent_half),
                    (&host.latent_full, &tensors.latent_full),
                ] {
                    assert_eq!(a.size(), b.size());
                    assert!(a.equal(b), "{expression}, {threads} threads");
                }
            }
        }
    }

    /// More discriminator rounds draw more real points, beginning with the one round's, and
    /// leave the generator's batch as it was; uniform latent points lie in [-1, 1).
    #[test]
    fn more_rounds_extend_the_one_rounds_draws() {
        let target = Target::default();
        let draw = |d_steps, latent| {
            let (model_cfg, cfg) = shapes(128, 5, d_steps, latent);
            TrainingDraws::new(&[9], &target, Scaling::IDENTITY, &model_cfg, &cfg, Device::Cpu).at(3)
        };
        let (one, three) = (draw(1, Latent::Normal), draw(3, Latent::Normal));
        assert_eq!((three.real.size(), three.latent_half.size()), (vec![1, 192, 2], vec![1, 192, 5]));
        assert!(three.real.narrow(1, 0, 64).equal(&one.real));
        assert!(!three.latent_half.narrow(1, 64, 64).equal(&three.latent_half.narrow(1, 0, 64)));
        assert!(three.latent_full.equal(&one.latent_full));
        let uniform = draw(1, Latent::Uniform).latent_full;
        let (low, high) = (uniform.min().double_value(&[]), uniform.max().double_value(&[]));
        assert!(low >= -1.0 && high < 1.0 && low < -0.95 && high > 0.95, "[{low}, {high}]");
    }

    #[test]
    fn real_points_lie_on_the_parabola_inside_the_domain() {
        let keys = Keys::new(&[3], Device::Cpu);
        let points = real_points(&keys, Tag::ExploreReal, 0, &Target::default(), Scaling::IDENTITY, 1000);
        let pairs = to_pairs(&points.get(0));
        assert_eq!(pairs.len(), 1000);
        for (x, y) in pairs {
            assert!((-0.5..0.5).contains(&x), "{x}");
            assert_eq!(y, x * x);
        }
    }

    #[test]
    fn scaled_real_points_fill_the_unit_square() {
        let keys = Keys::new(&[5], Device::Cpu);
        let config = crate::target::TargetConfig::given("sine", "-1,3".parse().unwrap());
        let target = Target::new(&config).unwrap();
        let scaling = Scaling::onto_unit_square(&target);
        let pairs = to_pairs(&real_points(&keys, Tag::ExploreReal, 0, &target, scaling, 2000).get(0));
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
        let back = to_pairs(
            &scaling.to_data(&real_points(&keys, Tag::ExploreReal, 1, &target, scaling, 100).get(0)),
        );
        assert!(back.iter().all(|&(x, y)| (y as f64 - target.f(x as f64)).abs() < 1e-5));
    }

    #[test]
    fn training_draws_depend_on_the_iteration_and_the_seed_alone() {
        let target = Target::default();
        let (model_cfg, cfg) = shapes(128, 5, 1, Latent::Normal);
        let draws = |seeds: &[u64]| {
            TrainingDraws::new(seeds, &target, Scaling::IDENTITY, &model_cfg, &cfg, Device::Cpu)
        };
        let (mut one, mut three) = (draws(&[9]), draws(&[4, 9, 5]));
        // A chunk drawn from iteration 0, and one drawn from iteration 70 directly.
        let mut later = draws(&[9]);
        let at_70 = later.at(70);
        for i in 0..80 {
            let (a, b) = (one.at(i), three.at(i));
            assert_eq!(a.real.size(), [1, 64, 2]);
            assert_eq!((a.latent_half.size(), a.latent_full.size()), (vec![1, 64, 5], vec![1, 128, 5]));
            assert!(a.real.equal(&b.real.narrow(0, 1, 1)) && !a.real.equal(&b.real.narrow(0, 0, 1)), "{i}");
            assert!(a.latent_half.equal(&b.latent_half.narrow(0, 1, 1)), "{i}");
            assert!(a.latent_full.equal(&b.latent_full.narrow(0, 1, 1)), "{i}");
            if i == 70 {
                assert!(a.real.equal(&at_70.real) && a.latent_full.equal(&at_70.latent_full));
            }
        }
        let (first, second) = (one.at(0).real, one.at(1).real);
        assert!(!first.equal(&second));
        for (x, y) in to_pairs(&first.get(0)) {
            assert!((-0.5..0.5).contains(&x) && y == x * x, "({x}, {y})");
        }
    }

    #[test]
    fn reference_sets_are_on_the_curve_seeded_and_each_its_own_stream() {
        let target = Target::default();
        let draw = |seed, tag, counter| reference_pairs(seed, tag, counter, &target, 50);
        assert_eq!(draw(1, Tag::MetricReference, 0), draw(1, Tag::MetricReference, 0));
        assert_ne!(draw(1, Tag::MetricReference, 0), draw(2, Tag::MetricReference, 0));
        // Seed S's animation is not seed S + 1's metric reference, nor its own.
        assert_ne!(draw(2, Tag::MetricReference, 0), draw(1, Tag::FrameReference, 0));
        assert_ne!(draw(1, Tag::MetricReference, 0), draw(1, Tag::FrameReference, 0));
        assert_ne!(draw(1, Tag::EvaluateReference, 0), draw(1, Tag::EvaluateReference, 1));
        assert!(
            draw(3, Tag::MetricReference, 0).iter().all(|&(x, y)| (-0.5..0.5).contains(&x) && y == x * x)
        );
    }

    #[test]
    fn curve_spans_the_domain() {
        let c = Target::default().curve(11);
        assert_eq!(c.first().unwrap().0, -0.5);
        assert!((c.last().unwrap().0 - 0.5).abs() < 1e-12);
        assert!((c[3].1 - 0.04).abs() < 1e-12);
    }
}
