//! gan1d's random numbers: Philox4x32-10, a counter-based generator, evaluated with tensor
//! operations on the training device.
//!
//! Every random number of a run is a pure function of three things: the run's 64-bit seed (the
//! generator's key), a 64-bit counter (the iteration), and the number's place (which draw, and
//! its position in it). Philox is a bijection of its 128-bit counter for each key, and the
//! counter holds the iteration, the draw's tag and the position whole, so two numbers of one
//! run never come from the same counter, and two seeds never share a key: no draw can repeat
//! another by construction. Nothing is carried from one iteration to the next, which makes a
//! resumed run draw exactly what an uninterrupted one does, and lets K runs draw together:
//! the keys are a `[K]` tensor, and member `k` draws what its seed draws alone.
//!
//! Counter words: `(iteration low 32 bits, iteration high 32 bits, block, tag)`; each block
//! gives four 32-bit words. The words are held in int64 tensors, each below 2³², because
//! libtorch's unsigned 64-bit support is partial; products wrap modulo 2⁶⁴ and are masked.

use tch::{Device, Kind, Tensor};

const M0: i64 = 0xD251_1F53;
const M1: i64 = 0xCD9E_8D57;
const W0: i64 = 0x9E37_79B9;
const W1: i64 = 0xBB67_AE85;
const LOW32: i64 = 0xFFFF_FFFF;
const ROUNDS: usize = 10;

/// What a draw is for: the fourth counter word, so that no two draws share numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// The generator's initial weights (counter 0).
    InitGenerator = 1,
    /// The discriminator's initial weights (counter 0).
    InitDiscriminator = 2,
    /// An iteration's real points' x.
    Real = 3,
    /// An iteration's latent points for the fakes of the discriminator update.
    LatentHalf = 4,
    /// An iteration's latent points for the generator update.
    LatentFull = 5,
    /// An evaluation's real points' x.
    EvalReal = 6,
    /// An evaluation's latent points.
    EvalLatent = 7,
    /// The fixed latent batch the metrics measure (counter 0).
    MetricLatent = 8,
    /// `sample` and `evaluate`: the latent points of chunk `c` (counter `c`).
    Sample = 9,
    /// `explore real`: the real points' x (counter 0).
    ExploreReal = 10,
    /// `explore untrained`: the latent points (counter 0).
    ExploreLatent = 11,
    /// `explore discriminator`: batch `i`'s real points' x (counter `i`).
    AloneReal = 12,
    /// `explore discriminator`: batch `i`'s uniform fakes (counter `i`).
    AloneFake = 13,
    /// The real points a member's metrics compare against, fixed for the run (counter 0).
    MetricReference = 14,
    /// The real points under a run's animation (counter 0).
    FrameReference = 15,
    /// `evaluate`: the reference set (counter 0), the real floor's points (1) and the floor's
    /// own reference set (2).
    EvaluateReference = 16,
    /// An iteration's numbers for a gradient penalty's points (WGAN-GP, DRAGAN).
    Penalty = 17,
}

/// Philox4x32-10 of one counter block under one key, on the host: the reference that the
/// tensor form is tested against, and that published test vectors pin down.
pub fn philox_block(key: [u32; 2], counter: [u32; 4]) -> [u32; 4] {
    let (mut k, mut c) = (key, counter);
    for round in 0..ROUNDS {
        if round > 0 {
            k = [k[0].wrapping_add(W0 as u32), k[1].wrapping_add(W1 as u32)];
        }
        let p0 = (M0 as u64) * c[0] as u64;
        let p1 = (M1 as u64) * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

/// The keys of K runs, one per seed, on a device.
#[derive(Debug)]
pub struct Keys {
    seeds: Vec<u64>,
    k0: Tensor, // [K, 1, 1], int64, the seeds' low words
    k1: Tensor, // [K, 1, 1], the high words
}

impl Keys {
    pub fn new(seeds: &[u64], device: Device) -> Keys {
        let words = |shift: u32| {
            let w: Vec<i64> = seeds.iter().map(|&s| ((s >> shift) & LOW32 as u64) as i64).collect();
            Tensor::from_slice(&w).view([-1, 1, 1]).to_device(device)
        };
        Keys { seeds: seeds.to_vec(), k0: words(0), k1: words(32) }
    }

    /// The seeds, one per run.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// How many runs draw.
    pub fn len(&self) -> i64 {
        self.k0.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn device(&self) -> Device {
        self.k0.device()
    }

    /// Draw `tag` at counters `first .. first + iterations`, `n` numbers per counter and run,
    /// as each 32-bit word's top 24 bits: float32 integers in `[0, 2²⁴)`, `[K, iterations, n]`,
    /// for [`uniform`] and [`normal`]. Number `i` of a counter is word `i % 4` of block `i / 4`,
    /// so a longer draw begins with a shorter one's numbers.
    pub fn draw(&self, tag: Tag, first: u64, iterations: i64, n: i64) -> Tensor {
        self.draws(&[(tag, n)], first, iterations).pop().expect("one draw asked for")
    }

    /// Several draws at once: for each `(tag, n)`, what [`Keys::draw`] gives. On the CPU the
    /// words are computed on the host, where a 32×32-bit product is one instruction; on a GPU,
    /// with tensor operations there. Both give the same words.
    pub fn draws(&self, draws: &[(Tag, i64)], first: u64, iterations: i64) -> Vec<Tensor> {
        let all = if self.device().is_cuda() {
            self.words_on_device(draws, first, iterations)
                .bitwise_right_shift_tensor_scalar(8)
                .to_kind(Kind::Float)
        } else {
            self.words_on_host(draws, first, iterations)
        };
        let blocks = draws.iter().map(|&(_, n)| blocks_for(n));
        let mut start = 0;
        draws
            .iter()
            .zip(blocks)
            .map(|(&(_, n), b)| {
                let numbers = all.narrow(2, 4 * start, n);
                start += b;
                numbers
            })
            .collect()
    }

    /// The words of `draws` by tensor operations on the keys' device: `[K, T, 4B]`, int64.
    fn words_on_device(&self, draws: &[(Tag, i64)], first: u64, iterations: i64) -> Tensor {
        let device = self.device();
        let int = (Kind::Int64, device);
        // The third and fourth counter words of every block of every draw: `[1, 1, B]`.
        let block_index: Vec<i64> = draws.iter().flat_map(|&(_, n)| 0..blocks_for(n)).collect();
        let tags: Vec<i64> = draws
            .iter()
            .flat_map(|&(tag, n)| std::iter::repeat_n(tag as i64, blocks_for(n) as usize))
            .collect();
        let c2 = Tensor::from_slice(&block_index).view([1, 1, -1]).to_device(device);
        let c3 = Tensor::from_slice(&tags).view([1, 1, -1]).to_device(device);
        // The iterations, as two words: `[1, T, 1]`.
        let iteration = Tensor::arange(iterations, int).g_add_scalar(first as i64).view([1, -1, 1]);
        let c0 = iteration.bitwise_and(LOW32);
        let c1 = iteration.bitwise_right_shift_tensor_scalar(32).bitwise_and(LOW32);
        let shape = [self.len(), iterations, c2.size()[2]];
        let [w0, w1, w2, w3] = philox(
            [
                c0.expand(shape, false),
                c1.expand(shape, false),
                c2.expand(shape, false),
                c3.expand(shape, false),
            ],
            &self.k0,
            &self.k1,
        );
        // `[K, T, B, 4]` → `[K, T, 4B]`: block b's words are 4b … 4b + 3.
        Tensor::stack(&[w0, w1, w2, w3], 3).view([shape[0], shape[1], -1])
    }

    /// The top 24 bits of the words of `draws`, computed on the host: `[K, T, 4B]`, float32.
    fn words_on_host(&self, draws: &[(Tag, i64)], first: u64, iterations: i64) -> Tensor {
        let per_member: Vec<f32> =
            self.seeds.iter().flat_map(|&seed| host_words(seed, draws, first, iterations)).collect();
        let per_row = per_member.len() as i64 / (self.len() * iterations).max(1);
        Tensor::from_slice(&per_member).view([self.len(), iterations, per_row])
    }
}

/// What [`Keys::draws`] gives one seed, on the host: `iterations` rows of `4B` numbers (the
/// words' top 24 bits as float32), draw after draw in each row, each draw starting at word
/// `4 × (the blocks of the draws before it)`.
pub fn host_words(seed: u64, draws: &[(Tag, i64)], first: u64, iterations: i64) -> Vec<f32> {
    let counters: Vec<(u32, u32)> =
        draws.iter().flat_map(|&(tag, n)| (0..blocks_for(n) as u32).map(move |b| (b, tag as u32))).collect();
    let per_row = 4 * counters.len();
    let mut out = vec![0f32; iterations as usize * per_row];
    for (t, row) in out.chunks_exact_mut(per_row).enumerate() {
        philox_lanes(seed, first + t as u64, &counters, row);
    }
    out
}

/// Where each of `draws` starts in a row of [`host_words`].
pub fn host_offsets(draws: &[(Tag, i64)]) -> Vec<usize> {
    let mut start = 0;
    draws
        .iter()
        .map(|&(_, n)| {
            let at = start;
            start += 4 * blocks_for(n) as usize;
            at
        })
        .collect()
}

/// Blocks of four words that `n` numbers take.
fn blocks_for(n: i64) -> i64 {
    (n + 3) / 4
}

/// Lanes processed together by [`philox_lanes`], so that the compiler vectorises each round.
const LANES: usize = 32;

/// Philox4x32-10 under `seed` of the counters `(iteration, block, tag)` in `blocks`, written
/// to `out` as the top 24 bits of each word, four per block.
fn philox_lanes(seed: u64, iteration: u64, blocks: &[(u32, u32)], out: &mut [f32]) {
    let (it0, it1) = (iteration as u32, (iteration >> 32) as u32);
    for (chunk, out) in blocks.chunks(LANES).zip(out.chunks_mut(4 * LANES)) {
        let lanes = chunk.len();
        let mut c = [[0u32; LANES]; 4];
        for (i, &(block, tag)) in chunk.iter().enumerate() {
            c[0][i] = it0;
            c[1][i] = it1;
            c[2][i] = block;
            c[3][i] = tag;
        }
        let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
        for round in 0..ROUNDS {
            if round > 0 {
                k0 = k0.wrapping_add(W0 as u32);
                k1 = k1.wrapping_add(W1 as u32);
            }
            let mut next = [[0u32; LANES]; 4];
            for i in 0..LANES {
                let p0 = (M0 as u64) * c[0][i] as u64;
                let p1 = (M1 as u64) * c[2][i] as u64;
                next[0][i] = (p1 >> 32) as u32 ^ c[1][i] ^ k0;
                next[1][i] = p1 as u32;
                next[2][i] = (p0 >> 32) as u32 ^ c[3][i] ^ k1;
                next[3][i] = p0 as u32;
            }
            c = next;
        }
        for i in 0..lanes {
            for w in 0..4 {
                out[4 * i + w] = (c[w][i] >> 8) as f32;
            }
        }
    }
}

/// Ten Philox rounds over counter words of one shape, under keys that broadcast to it.
fn philox(counter: [Tensor; 4], k0: &Tensor, k1: &Tensor) -> [Tensor; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = counter;
    let (mut k0, mut k1) = (k0.shallow_clone(), k1.shallow_clone());
    for round in 0..ROUNDS {
        if round > 0 {
            k0 = k0.g_add_scalar(W0).bitwise_and(LOW32);
            k1 = k1.g_add_scalar(W1).bitwise_and(LOW32);
        }
        let p0 = c0.g_mul_scalar(M0);
        let p1 = c2.g_mul_scalar(M1);
        // The high words, after an arithmetic shift: the mask drops the sign's copies.
        let mut hi1 = p1.bitwise_right_shift_tensor_scalar(32);
        let _ = hi1.bitwise_xor_tensor_(&c1).bitwise_xor_tensor_(&k0).bitwise_and_(LOW32);
        let mut hi0 = p0.bitwise_right_shift_tensor_scalar(32);
        let _ = hi0.bitwise_xor_tensor_(&c3).bitwise_xor_tensor_(&k1).bitwise_and_(LOW32);
        (c0, c1, c2, c3) = (hi1, p1.bitwise_and(LOW32), hi0, p0.bitwise_and(LOW32));
    }
    [c0, c1, c2, c3]
}

/// 2⁻²⁴: a word's top 24 bits, times this, is a float32 in `[0, 1)` exactly.
const UNIT: f64 = 1.0 / 16_777_216.0;

/// A draw's numbers as float32 uniform in `[low, high)`.
pub fn uniform(numbers: &Tensor, low: f64, high: f64) -> Tensor {
    let unit = numbers.g_mul_scalar(UNIT);
    unit.g_mul_scalar(high - low).g_add_scalar(low)
}

/// A draw's numbers as float32 normal `N(0, 1)`, by Box–Muller: with `h` half the last
/// dimension, numbers `i` and `h + i` give normals `i` and `h + i`. The last dimension must be
/// even.
///
/// On the CPU the logarithm, sine and cosine come from the `libm` crate, so the normals have
/// the same bits on every CPU whatever libtorch's kernels are; on CUDA, from libtorch.
pub fn normal(numbers: &Tensor) -> Tensor {
    let n = *numbers.size().last().expect("numbers have a last dimension");
    assert!(n % 2 == 0, "Box–Muller needs an even count of numbers, got {n}");
    if numbers.device() == Device::Cpu {
        return normal_on_host(numbers);
    }
    let half = n / 2;
    // u₁ in (0, 1], so that its logarithm is finite; the angle 2π·u₂ with u₂ in [0, 1).
    let mut radius = numbers.narrow(-1, 0, half).g_add_scalar(1.0);
    let _ = radius.g_mul_scalar_(UNIT).log_().g_mul_scalar_(-2.0).sqrt_();
    let angle = numbers.narrow(-1, half, half).g_mul_scalar(UNIT * std::f64::consts::TAU);
    let normals = numbers.empty_like();
    let (mut cos, mut sin) = (normals.narrow(-1, 0, half), normals.narrow(-1, half, half));
    let _ = angle.cos_out(&cos);
    let _ = cos.g_mul_(&radius);
    let _ = angle.sin_out(&sin);
    let _ = sin.g_mul_(&radius);
    normals
}

/// [`normal`] on the host, in float32: the same operations in the same order.
fn normal_on_host(numbers: &Tensor) -> Tensor {
    let size = numbers.size();
    let n = size[size.len() - 1] as usize;
    let words: Vec<f32> = Vec::try_from(numbers.to_kind(Kind::Float).contiguous().view([-1]))
        .expect("numbers convert to Vec<f32>");
    let mut out = vec![0f32; words.len()];
    for (row, normals) in words.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        host_normals(row, normals);
    }
    Tensor::from_slice(&out).view(size.as_slice())
}

/// One row of a draw's numbers (an even count) as normals, by Box–Muller as [`normal`] makes
/// them: `√(−2 ln u₁) · (cos, sin)(2π u₂)`. The logarithm, sine and cosine are written out
/// here in float32 multiplies and adds, branch-free, so that the loop is vectorised and gives
/// the same bits on every CPU; they are within a few float32 ulps of the true functions (a
/// test checks against float64).
pub fn host_normals(row: &[f32], normals: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::env::var_os("GAN1D_NATIVE_PORTABLE").is_none() {
        // SAFETY: the CPU has AVX2, checked at run time.
        unsafe { host_normals_avx2(row, normals) };
        return;
    }
    host_normals_body(row, normals)
}

/// [`host_normals`] compiled with AVX2: the same operations, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn host_normals_avx2(row: &[f32], normals: &mut [f32]) {
    host_normals_body(row, normals)
}

#[inline(always)]
fn host_normals_body(row: &[f32], normals: &mut [f32]) {
    let half = row.len() / 2;
    let (first, second) = row.split_at(half);
    let (cos, sin) = normals.split_at_mut(half);
    for (((&u, &v), c), s) in first.iter().zip(second).zip(cos.iter_mut()).zip(sin.iter_mut()) {
        let radius = (ln_unit(u) * -2.0).sqrt();
        let (sine, cosine) = sin_cos_turn(v);
        (*c, *s) = (cosine * radius, sine * radius);
    }
}

/// `ln((w + 1) / 2²⁴)` for a word's top 24 bits `w` (a float32 integer in `[0, 2²⁴)`): the
/// logarithm of Box–Muller's `u₁ ∈ (0, 1]`.
#[inline(always)]
fn ln_unit(w: f32) -> f32 {
    // ln 2 in two parts, so that e · ln 2 keeps its precision.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let v = w + 1.0; // exact: an integer of at most 24 bits
    let bits = v.to_bits();
    // v = m · 2^e with m in [√½, √2).
    let mut e = ((bits >> 23) as i32) - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    // ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| < 0.172: the series to s⁹.
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let series = z * (2.0 / 3.0 + z * (2.0 / 5.0 + z * (2.0 / 7.0 + z * (2.0 / 9.0))));
    let ln_m = 2.0 * s + s * series;
    let e = (e - 24) as f32;
    e * LN2_HIGH + (e * LN2_LOW + ln_m)
}

/// `(sin, cos)(2π w / 2²⁴)` for a word's top 24 bits `w`. The turn is split exactly into a
/// quarter `q` and a remainder `r ∈ [−⅛, ⅛]` of a turn, whose sine and cosine come from
/// short polynomials (Cephes' single-precision coefficients), then rotated by `q` quarters.
#[inline(always)]
fn sin_cos_turn(w: f32) -> (f32, f32) {
    let w = w as i32; // exact: an integer below 2²⁴
    let quarter = (w + (1 << 21)) >> 22; // the nearest quarter turn, 0..=4
    let rest = w - (quarter << 22); // in [−2²¹, 2²¹]
    let x = rest as f32 * (std::f32::consts::FRAC_PI_2 / 4_194_304.0);
    let z = x * x;
    let sin = x + x * z * (-1.666_665_5e-1 + z * (8.332_161e-3 + z * -1.951_529_6e-4));
    let cos = 1.0 - 0.5 * z + z * z * (4.166_664_6e-2 + z * (-1.388_731_6e-3 + z * 2.443_315_7e-5));
    // Rotated by q quarters: (sin, cos), (cos, −sin), (−sin, −cos), (−cos, sin); as selects and
    // sign flips, which vectorise.
    let q = (quarter & 3) as u32;
    let odd = q & 1 == 1;
    let (a, b) = (if odd { cos } else { sin }, if odd { sin } else { cos });
    let sin_sign = (q >> 1) << 31;
    let cos_sign = ((q ^ (q >> 1)) & 1) << 31;
    (f32::from_bits(a.to_bits() ^ sin_sign), f32::from_bits(b.to_bits() ^ cos_sign))
}

/// [`uniform`] of one number on the host, in float32 as libtorch computes it.
pub fn host_uniform(number: f32, low: f64, high: f64) -> f32 {
    number * UNIT as f32 * (high - low) as f32 + low as f32
}

/// `count` normals per counter, from `words` drawn for `count` rounded up to even.
pub fn even(count: i64) -> i64 {
    count + count % 2
}

/// `shape`'s worth of `N(0, 1)` numbers from `seed`'s stream, for tests that need arbitrary
/// inputs without a global generator.
#[cfg(test)]
pub(crate) fn test_normal(seed: u64, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let numbers = Keys::new(&[seed], Device::Cpu).draw(Tag::Sample, 0, 1, even(n)).view([-1]);
    normal(&numbers.unsqueeze(0)).view([-1]).narrow(0, 0, n).view(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_the_published_test_vectors() {
        // Random123's known-answer vectors for philox4x32-10.
        assert_eq!(philox_block([0, 0], [0, 0, 0, 0]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(
            philox_block([u32::MAX; 2], [u32::MAX; 4]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox_block([0xa409_3822, 0x299f_31d0], [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn tensor_philox_matches_the_host_form() {
        let seeds = [0u64, 42, u64::MAX, 0x1234_5678_9abc_def0];
        let keys = Keys::new(&seeds, Device::Cpu);
        let first = (1u64 << 32) - 2; // the iteration's high word changes within the draw
        let words = keys.words_on_device(&[(Tag::Real, 10)], first, 4);
        assert_eq!(words.size(), [4, 4, 12]);
        for (k, &seed) in seeds.iter().enumerate() {
            for t in 0..4 {
                let iteration = first + t as u64;
                for i in 0..10 {
                    let block = philox_block(
                        [seed as u32, (seed >> 32) as u32],
                        [iteration as u32, (iteration >> 32) as u32, (i / 4) as u32, Tag::Real as u32],
                    );
                    let got = words.int64_value(&[k as i64, t, i]);
                    assert_eq!(
                        got,
                        block[(i % 4) as usize] as i64,
                        "seed {seed}, iteration {iteration}, word {i}"
                    );
                }
            }
        }
        // The host's vectorised form gives the same numbers, across lane chunks and draws.
        let draws = [(Tag::Real, 10), (Tag::LatentFull, 333), (Tag::EvalReal, 1)];
        let host = keys.draws(&draws, first, 4);
        let device = keys.words_on_device(&draws, first, 4).bitwise_right_shift_tensor_scalar(8);
        let mut start = 0;
        for (numbers, (_, n)) in host.iter().zip(draws) {
            assert!(numbers.equal(&device.narrow(2, start, n).to_kind(Kind::Float)), "{n}");
            start += 4 * blocks_for(n);
        }
    }

    #[test]
    fn a_run_draws_alike_alone_and_among_others() {
        let alone = Keys::new(&[7], Device::Cpu).draws(&[(Tag::Real, 64), (Tag::LatentFull, 640)], 100, 3);
        let together =
            Keys::new(&[3, 7, 11], Device::Cpu).draws(&[(Tag::Real, 64), (Tag::LatentFull, 640)], 100, 3);
        for (a, b) in alone.iter().zip(&together) {
            assert!(a.get(0).equal(&b.get(1)));
            assert!(!a.get(0).equal(&b.get(0)));
        }
        let (x, z) = (uniform(&alone[1], -0.5, 0.5), normal(&alone[1]));
        assert!(x.get(0).equal(&uniform(&together[1], -0.5, 0.5).get(1)));
        assert!(z.get(0).equal(&normal(&together[1]).get(1)));
        // One counter's draw does not depend on which other counters are drawn with it.
        let later = Keys::new(&[7], Device::Cpu).draw(Tag::Real, 101, 1, 64);
        assert!(later.get(0).get(0).equal(&alone[0].get(0).get(1)));
    }

    #[test]
    fn seeds_differing_only_in_high_bits_draw_differently() {
        let keys = Keys::new(&[5, 5 + (1 << 32)], Device::Cpu);
        let words = keys.draw(Tag::Real, 0, 1, 8);
        assert!(!words.get(0).equal(&words.get(1)));
    }

    #[test]
    fn uniform_and_normal_have_their_moments() {
        let words = Keys::new(&[1], Device::Cpu).draw(Tag::EvalLatent, 0, 1, 200_000);
        let u = uniform(&words, -2.0, 6.0);
        let (min, max) = (u.min().double_value(&[]), u.max().double_value(&[]));
        assert!((-2.0..-1.99).contains(&min) && (5.99..6.0).contains(&max), "[{min}, {max}]");
        assert!((u.mean(Kind::Double).double_value(&[]) - 2.0).abs() < 0.02);
        let z = normal(&words);
        assert_eq!(z.size(), [1, 1, 200_000]);
        let mean = z.mean(Kind::Double).double_value(&[]);
        let var = z.var(true).double_value(&[]);
        let tail = z.abs().gt(1.96).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean}, variance {var}");
        assert!((tail - 0.05).abs() < 0.003, "share beyond 1.96: {tail}");
        assert_eq!(z.isfinite().all().int64_value(&[]), 1);
    }

    /// The written-out logarithm, sine and cosine against float64, over every exponent and
    /// every quarter turn, and the ends.
    #[test]
    fn the_host_functions_are_within_a_few_ulps() {
        let (mut worst_ln, mut worst_trig) = (0f64, 0f64);
        let mut check = |w: u32| {
            let u = (f64::from(w) + 1.0) / 16_777_216.0;
            let ln = f64::from(ln_unit(w as f32));
            worst_ln =
                worst_ln.max((ln - u.ln()).abs() / (u.ln().abs().max(1e-30) * f64::from(f32::EPSILON)));
            let angle = std::f64::consts::TAU * f64::from(w) / 16_777_216.0;
            let (s, c) = sin_cos_turn(w as f32);
            let err = (f64::from(s) - angle.sin()).abs().max((f64::from(c) - angle.cos()).abs());
            worst_trig = worst_trig.max(err / f64::from(f32::EPSILON));
        };
        let mut w: u32 = 0;
        while w < (1 << 24) {
            check(w);
            w += 997;
        }
        for w in [0, 1, 2, 3, (1 << 21) - 1, 1 << 21, (1 << 22) + 1, (1 << 24) - 2, (1 << 24) - 1] {
            check(w);
        }
        // ln: relative error in ulps of ln u (u = 1 − 2⁻²⁴ has ln u ≈ −6e−8, where a relative
        // measure is strict); sine and cosine: absolute, in ulps of 1.
        eprintln!("ln within {worst_ln:.2} ulps, sin and cos within {worst_trig:.2}");
        assert!(worst_ln < 4.0, "ln: {worst_ln} ulps");
        assert!(worst_trig < 2.0, "sin/cos: {worst_trig} ulps");
        // The copy compiled for this CPU gives the portable copy's bits.
        let words = Keys::new(&[3], Device::Cpu).draw(Tag::Sample, 0, 1, 4096).view([-1]);
        let row: Vec<f32> = Vec::try_from(words).unwrap();
        let (mut fast, mut portable) = (vec![0f32; 4096], vec![0f32; 4096]);
        host_normals(&row, &mut fast);
        host_normals_body(&row, &mut portable);
        assert!(fast.iter().zip(&portable).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn the_host_normals_agree_with_libtorchs() {
        let words = Keys::new(&[9], Device::Cpu).draw(Tag::EvalLatent, 0, 3, 1000);
        let host = normal(&words);
        // The tensor form, as CUDA computes it, on the CPU.
        let half = 500;
        let radius =
            words.narrow(-1, 0, half).g_add_scalar(1.0).g_mul_scalar(UNIT).log().g_mul_scalar(-2.0).sqrt();
        let angle = words.narrow(-1, half, half).g_mul_scalar(UNIT * std::f64::consts::TAU);
        let tensor = Tensor::cat(&[angle.cos() * &radius, angle.sin() * &radius], -1);
        let diff = (&host - &tensor).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
        assert_eq!(host.size(), [1, 3, 1000]);
    }
}
