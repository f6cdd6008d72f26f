//! The layer products' inner loops, compiled once for each instruction set the CPU may have
//! ([`Path`]) with register tiles sized for it. Every copy computes every number by the same
//! float32 operations in the same order (the order [`super`] fixes); a copy only decides how
//! many independent sums run side by side, so all copies give the same bits.
//!
//! Two kinds of product cover a dense layer:
//! - [`combine`]: `out[r][p] = start[r] + Σ_j m[r][j] · x[j][p]`, summed in `j` order, the
//!   forward pass (`m` the weight) and the input gradient (`m` the weight transposed, read in
//!   place); tiles of several outputs × a block of points, vectorised along the points;
//! - [`dots`]: `out[r][c] = Σ_p a[r][p] · b[c][p]` in [`LANES`] partial sums, the weight
//!   gradient; tiles of several rows × several columns, each pair's sums one vector.

use super::LANES;
use crate::activation::Activation;

/// A copy of the loops, by the widest vector unit it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Any CPU: what the compiler makes of plain Rust for the target's baseline.
    Portable,
    /// x86-64 with AVX2: sixteen 8-float registers.
    Avx2,
    /// x86-64 with AVX-512: thirty-two registers of up to 16 floats.
    Avx512,
}

impl Path {
    /// The widest copy this CPU runs, fixed for the process when first asked;
    /// `GAN1D_NATIVE_PORTABLE=1` picks [`Path::Portable`].
    pub fn best() -> Path {
        static CHOICE: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            if std::env::var_os("GAN1D_NATIVE_PORTABLE").is_some() {
                Path::Portable
            } else {
                *Path::available().last().expect("the portable copy runs anywhere")
            }
        })
    }

    /// Every copy this CPU can run, narrowest first.
    pub fn available() -> Vec<Path> {
        let mut paths = vec![Path::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                paths.push(Path::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
                paths.push(Path::Avx512);
            }
        }
        paths
    }

    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Avx2 => "AVX2",
            Path::Avx512 => "AVX-512",
        }
    }
}

/// Defines `fn name(path: Path, args…)`, which runs `body` compiled for `path`'s instruction
/// set: for work handed to other threads (a closure run there is compiled for any CPU), and
/// for loops outside the products. `body` should call `#[inline(always)]` code only, so that
/// all of it is compiled in each copy; every copy does the same operations in the same order.
macro_rules! dispatched {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        $vis fn $name(path: $crate::host::Path, $($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl")]
            unsafe fn avx512($($arg: $ty),*) {
                body($($arg),*)
            }
            match path {
                $crate::host::Path::Portable => body($($arg),*),
                // SAFETY: `Path::available` offers these copies only where the CPU has the
                // features.
                #[cfg(target_arch = "x86_64")]
                $crate::host::Path::Avx2 => unsafe { avx2($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::host::Path::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(not(target_arch = "x86_64"))]
                _ => unreachable!("only x86-64 offers {}", path.name()),
            }
        }
    };
}
pub(crate) use dispatched;

dispatched! {
    /// A layer's activation on its outputs, in place.
    pub(crate) fn activate(activation: Activation, rows: &mut [f32]) {
        activation.apply_host(rows)
    }
}

dispatched! {
    /// ∂loss/∂(pre-activation) from ∂loss/∂output and the outputs, in place.
    pub(crate) fn derive(activation: Activation, grad: &mut [f32], output: &[f32]) {
        activation.derive_host(grad, output)
    }
}

/// Numbers of one vector register, as the kernels use them: loads, stores, broadcasts, and
/// a multiply then an add, each exactly rounded (never fused), so that a lane computes what
/// plain `f32` arithmetic does.
pub(super) trait Vector: Copy {
    /// Lanes.
    const WIDTH: usize;
    /// `WIDTH` numbers from `from`.
    ///
    /// # Safety
    /// `from..from + WIDTH` is readable, and the CPU has the copy's features.
    unsafe fn load(from: *const f32) -> Self;
    /// # Safety
    /// `to..to + WIDTH` is writable, and the CPU has the copy's features.
    unsafe fn store(self, to: *mut f32);
    fn splat(x: f32) -> Self;
    /// `self + a · b`, the product rounded before the sum.
    fn add_product(self, a: Self, b: Self) -> Self;
    fn add(self, b: Self) -> Self;
}

impl Vector for f32 {
    const WIDTH: usize = 1;
    #[inline(always)]
    unsafe fn load(from: *const f32) -> f32 {
        unsafe { *from }
    }
    #[inline(always)]
    unsafe fn store(self, to: *mut f32) {
        unsafe { *to = self }
    }
    #[inline(always)]
    fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn add_product(self, a: f32, b: f32) -> f32 {
        self + a * b
    }
    #[inline(always)]
    fn add(self, b: f32) -> f32 {
        self + b
    }
}

/// The portable copy's vector: eight lanes the compiler maps to what the target has.
impl Vector for [f32; LANES] {
    const WIDTH: usize = LANES;
    #[inline(always)]
    unsafe fn load(from: *const f32) -> Self {
        unsafe { *(from as *const [f32; LANES]) }
    }
    #[inline(always)]
    unsafe fn store(self, to: *mut f32) {
        unsafe { *(to as *mut [f32; LANES]) = self }
    }
    #[inline(always)]
    fn splat(x: f32) -> Self {
        [x; LANES]
    }
    #[inline(always)]
    fn add_product(mut self, a: Self, b: Self) -> Self {
        for l in 0..LANES {
            self[l] += a[l] * b[l];
        }
        self
    }
    #[inline(always)]
    fn add(mut self, b: Self) -> Self {
        for l in 0..LANES {
            self[l] += b[l];
        }
        self
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// `Vector` for an x86 register type over its intrinsics (which need AVX, or AVX-512F for
    /// `__m512`): these methods are only reached from the copies compiled with those features,
    /// into which they are inlined.
    macro_rules! register {
        ($vector:ty, $width:expr, $load:ident, $store:ident, $set1:ident, $add:ident, $mul:ident) => {
            impl Vector for $vector {
                const WIDTH: usize = $width;
                #[inline(always)]
                unsafe fn load(from: *const f32) -> Self {
                    unsafe { $load(from) }
                }
                #[inline(always)]
                unsafe fn store(self, to: *mut f32) {
                    unsafe { $store(to, self) }
                }
                #[inline(always)]
                fn splat(x: f32) -> Self {
                    unsafe { $set1(x) }
                }
                #[inline(always)]
                fn add_product(self, a: Self, b: Self) -> Self {
                    unsafe { $add(self, $mul(a, b)) }
                }
                #[inline(always)]
                fn add(self, b: Self) -> Self {
                    unsafe { $add(self, b) }
                }
            }
        };
    }

    register!(__m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_mul_ps);
    register!(__m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_mul_ps);
}

/// Where [`combine`] finds `m[r][j]`, the weight of row `r`'s term `j`: at
/// `r · row + j · term`. A weight `[out][in]` read as is has `(row, term) = (in, 1)`; read
/// transposed, `(1, in)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strides {
    pub(crate) row: usize,
    pub(crate) term: usize,
}

/// `out[r][p] = start(r) + Σ_j m[r][j] · x[j][p]` for the `out.len() / n` rows `r` and `n`
/// points `p`, with `x` the `[j][n]` rows of a feature-major array and `m` laid out by
/// `strides`; `start` is 0 when `starts` is `None`. Each sum runs in `j` order.
pub(crate) fn combine(
    path: Path,
    starts: Option<&[f32]>,
    m: &[f32],
    strides: Strides,
    x: &[f32],
    n: usize,
    out: &mut [f32],
) {
    if n == 0 || out.is_empty() {
        return;
    }
    let (rows, terms) = (out.len() / n, x.len() / n);
    assert!(out.len() == rows * n && x.len() == terms * n, "whole rows of {n} points");
    let last = |count: usize, stride: usize| count.saturating_sub(1) * stride;
    assert!(
        terms == 0 || last(rows, strides.row) + last(terms, strides.term) < m.len(),
        "a weight for every row and term"
    );
    match path {
        // SAFETY: the sizes are checked above; `Path::available` offers the x86 copies only
        // where the CPU has their features.
        Path::Portable => unsafe { combine_tiles::<[f32; LANES], 3, 1>(starts, m, strides, x, n, out) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { combine_avx2(starts, m, strides, x, n, out) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => unsafe { combine_avx512(starts, m, strides, x, n, out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only x86-64 offers {}", path.name()),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn combine_avx2(
    starts: Option<&[f32]>,
    m: &[f32],
    strides: Strides,
    x: &[f32],
    n: usize,
    out: &mut [f32],
) {
    unsafe { combine_tiles::<std::arch::x86_64::__m256, 6, 2>(starts, m, strides, x, n, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn combine_avx512(
    starts: Option<&[f32]>,
    m: &[f32],
    strides: Strides,
    x: &[f32],
    n: usize,
    out: &mut [f32],
) {
    unsafe { combine_tiles::<std::arch::x86_64::__m512, 8, 2>(starts, m, strides, x, n, out) }
}

/// Floats of `m` one pass of [`combine`] reads, and terms one pass sums: a pass's weights
/// (about 256 KB) stay in the second-level cache and its block of `x` in the first while
/// every tile of the pass reads them. A later pass over more terms takes up the sums where
/// the last one stored them, which changes no operation and so no bit.
const PASS_FLOATS: usize = 1 << 16;
const PASS_TERMS: usize = 256;

/// The rows and terms one pass of [`combine`] covers; `resume` when the sums start from
/// what `out` holds (a pass over the terms after the first).
#[derive(Debug, Clone, Copy)]
struct Span {
    rows: (usize, usize),
    terms: (usize, usize),
    resume: bool,
}

/// [`combine`] in passes ([`PASS_FLOATS`], [`PASS_TERMS`]), each in tiles of `R` rows × `NV`
/// vectors of points, then one vector, then single points at the edges. The points go in the
/// outer loop of a pass, so that one block of `x` stays in the nearest cache while every tile
/// of rows reads it.
///
/// # Safety
/// The sizes are [`combine`]'s, checked there.
#[inline(always)]
unsafe fn combine_tiles<V: Vector, const R: usize, const NV: usize>(
    starts: Option<&[f32]>,
    m: &[f32],
    strides: Strides,
    x: &[f32],
    n: usize,
    out: &mut [f32],
) {
    let (rows, terms) = (out.len() / n, x.len() / n);
    let chunk_terms = PASS_TERMS.min(terms.max(1));
    let chunk_rows = (PASS_FLOATS / chunk_terms / R * R).max(R);
    for t0 in (0..terms.max(1)).step_by(chunk_terms) {
        for r0 in (0..rows).step_by(chunk_rows) {
            let span = Span {
                rows: (r0, (r0 + chunk_rows).min(rows)),
                terms: (t0, (t0 + chunk_terms).min(terms)),
                resume: t0 > 0,
            };
            let mut p = 0;
            unsafe {
                while p + NV * V::WIDTH <= n {
                    row_tiles::<V, R, NV>(span, starts, m, strides, x, n, p, out);
                    p += NV * V::WIDTH;
                }
                while p + V::WIDTH <= n {
                    row_tiles::<V, R, 1>(span, starts, m, strides, x, n, p, out);
                    p += V::WIDTH;
                }
                while p < n {
                    row_tiles::<f32, R, 1>(span, starts, m, strides, x, n, p, out);
                    p += 1;
                }
            }
        }
    }
}

/// The rows of `span` over the points from `p`: tiles of `R` rows, then single rows.
///
/// # Safety
/// As [`combine_tiles`], with `p + NV · V::WIDTH <= n`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_tiles<V: Vector, const R: usize, const NV: usize>(
    span: Span,
    starts: Option<&[f32]>,
    m: &[f32],
    strides: Strides,
    x: &[f32],
    n: usize,
    p: usize,
    out: &mut [f32],
) {
    let start = |r: usize| starts.map_or(0.0, |s| s[r]);
    let (mut r, end) = span.rows;
    unsafe {
        while r + R <= end {
            block::<V, R, NV>(span, std::array::from_fn(|k| start(r + k)), m, strides, r, x, n, p, out);
            r += R;
        }
        for r in r..end {
            block::<V, 1, NV>(span, [start(r)], m, strides, r, x, n, p, out);
        }
    }
}

/// One tile of [`combine`]: rows `r0..r0 + R`, `NV` vectors of points from `p`, the terms of
/// `span`; the sums stay in registers.
///
/// # Safety
/// As [`row_tiles`], with `r0 + R <= out.len() / n`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn block<V: Vector, const R: usize, const NV: usize>(
    span: Span,
    starts: [f32; R],
    m: &[f32],
    strides: Strides,
    r0: usize,
    x: &[f32],
    n: usize,
    p: usize,
    out: &mut [f32],
) {
    let (m, x, out) = (m.as_ptr(), x.as_ptr(), out.as_mut_ptr());
    let at = |r: usize, v: usize| (r0 + r) * n + p + v * V::WIDTH;
    unsafe {
        let mut acc: [[V; NV]; R] = if span.resume {
            std::array::from_fn(|r| std::array::from_fn(|v| V::load(out.add(at(r, v)))))
        } else {
            std::array::from_fn(|r| [V::splat(starts[r]); NV])
        };
        for j in span.terms.0..span.terms.1 {
            let xs: [V; NV] = std::array::from_fn(|v| V::load(x.add(j * n + p + v * V::WIDTH)));
            let w = m.add(r0 * strides.row + j * strides.term);
            for (r, acc) in acc.iter_mut().enumerate() {
                let w = V::splat(*w.add(r * strides.row));
                for v in 0..NV {
                    acc[v] = acc[v].add_product(w, xs[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, sums) in acc.iter().enumerate() {
                sums.store(out.add(at(r, v)));
            }
        }
    }
}

/// `out[r · columns + c] = dot(a[r], b[c])` for the `[r][n]` rows of `a` and the `[c][n]` rows
/// of `b`, also given point-major as `bt` (`[n][columns]`): each sum as [`super::dot`] runs
/// it, in [`LANES`] partial sums (lane `l` adds the points `l`, `l + LANES`, … in order),
/// folded in [`super::fold`]'s tree, then the last points added in order.
///
/// Whole vectors of columns run lane by lane: lane `l`'s partial sums of a tile of rows ×
/// columns are a [`combine`]-like product over the points `l, l + LANES, …`, vectorised along
/// the columns; the eight results are then folded a vector at a time. The columns left over (a
/// narrow layer's all) run pair by pair, each pair's [`LANES`] partial sums one vector.
pub(crate) fn dots(path: Path, a: &[f32], b: &[f32], bt: &[f32], n: usize, columns: usize, out: &mut [f32]) {
    if n == 0 {
        out.fill(0.0);
        return;
    }
    let rows = a.len() / n;
    assert!(
        a.len() == rows * n
            && b.len() == n * columns
            && bt.len() == n * columns
            && out.len() == rows * columns,
        "whole rows of {n}"
    );
    match path {
        // SAFETY: the sizes are checked above; `Path::available` offers the x86 copies only
        // where the CPU has their features.
        Path::Portable => unsafe { dot_tiles::<[f32; LANES], [f32; LANES], 3, 1>(a, b, bt, n, columns, out) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { dots_avx2(a, b, bt, n, columns, out) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => unsafe { dots_avx512(a, b, bt, n, columns, out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only x86-64 offers {}", path.name()),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots_avx2(a: &[f32], b: &[f32], bt: &[f32], n: usize, columns: usize, out: &mut [f32]) {
    use std::arch::x86_64::__m256;
    unsafe { dot_tiles::<__m256, __m256, 6, 2>(a, b, bt, n, columns, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn dots_avx512(a: &[f32], b: &[f32], bt: &[f32], n: usize, columns: usize, out: &mut [f32]) {
    use std::arch::x86_64::{__m256, __m512};
    unsafe { dot_tiles::<__m512, __m256, 8, 2>(a, b, bt, n, columns, out) }
}

/// [`dots`] in tiles of `R` rows × `NV` vectors `V` of columns, then one vector, then the
/// columns left over pair by pair in vectors `L` of [`LANES`]; single rows at the edge. The
/// columns go in the outer loop, so that a block of `bt` stays in the nearest cache while
/// every row passes it.
///
/// # Safety
/// The sizes are [`dots`]'s, checked there; `L::WIDTH` is [`LANES`].
#[inline(always)]
unsafe fn dot_tiles<V: Vector, L: Vector, const R: usize, const NV: usize>(
    a: &[f32],
    b: &[f32],
    bt: &[f32],
    n: usize,
    columns: usize,
    out: &mut [f32],
) {
    let mut c = 0;
    unsafe {
        while c + NV * V::WIDTH <= columns {
            row_dot_tiles::<V, R, NV>(c, a, bt, n, columns, out);
            c += NV * V::WIDTH;
        }
        while c + V::WIDTH <= columns {
            row_dot_tiles::<V, R, 1>(c, a, bt, n, columns, out);
            c += V::WIDTH;
        }
        let rows = a.len() / n;
        for c in c..columns {
            let b = &b[c * n..(c + 1) * n];
            let mut r = 0;
            while r + R <= rows {
                let sums = pair_dots::<L, R>(&a[r * n..(r + R) * n], b, n);
                for (k, sum) in sums.into_iter().enumerate() {
                    out[(r + k) * columns + c] = sum;
                }
                r += R;
            }
            for r in r..rows {
                out[r * columns + c] = pair_dots::<L, 1>(&a[r * n..(r + 1) * n], b, n)[0];
            }
        }
    }
}

/// [`super::dot`] of each of the `R` rows of `a` with `b` (all `n` long), each pair's
/// [`LANES`] partial sums one vector `L`; the rows share the loads of `b`.
///
/// # Safety
/// `L::WIDTH` is [`LANES`].
#[inline(always)]
unsafe fn pair_dots<L: Vector, const R: usize>(a: &[f32], b: &[f32], n: usize) -> [f32; R] {
    debug_assert_eq!(L::WIDTH, LANES);
    let whole = n / LANES * LANES;
    let mut acc = [L::splat(0.0); R];
    unsafe {
        for k in (0..whole).step_by(LANES) {
            let y = L::load(b.as_ptr().add(k));
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = acc.add_product(L::load(a.as_ptr().add(r * n + k)), y);
            }
        }
    }
    std::array::from_fn(|r| {
        let mut lanes = [0f32; LANES];
        // SAFETY: `L` has `LANES` lanes.
        unsafe { acc[r].store(lanes.as_mut_ptr()) };
        let mut tail = 0f32;
        for (x, y) in a[r * n + whole..(r + 1) * n].iter().zip(&b[whole..]) {
            tail += x * y;
        }
        super::fold(lanes) + tail
    })
}

/// Every row of [`dots`] over the columns from `c0`: tiles of `R` rows, then single rows.
///
/// # Safety
/// As [`dot_tiles`], with `c0 + NV · V::WIDTH <= columns`.
#[inline(always)]
unsafe fn row_dot_tiles<V: Vector, const R: usize, const NV: usize>(
    c0: usize,
    a: &[f32],
    bt: &[f32],
    n: usize,
    columns: usize,
    out: &mut [f32],
) {
    let rows = a.len() / n;
    let mut r = 0;
    unsafe {
        while r + R <= rows {
            dot_block::<V, R, NV>(r, a, c0, bt, n, columns, out);
            r += R;
        }
        for r in r..rows {
            dot_block::<V, 1, NV>(r, a, c0, bt, n, columns, out);
        }
    }
}

/// One tile of [`dots`]: rows `r0..r0 + R` × columns `c0..c0 + NV · V::WIDTH`. Each lane's
/// partial sums stay in registers while they run; the eight lanes' results wait in a small
/// array for the fold.
///
/// # Safety
/// As [`row_dot_tiles`], with `r0 + R` rows in `a`.
#[allow(clippy::needless_range_loop)] // `r` and `v` index the partial sums, `a` and `out` alike
#[inline(always)]
unsafe fn dot_block<V: Vector, const R: usize, const NV: usize>(
    r0: usize,
    a: &[f32],
    c0: usize,
    bt: &[f32],
    n: usize,
    columns: usize,
    out: &mut [f32],
) {
    let whole = n / LANES * LANES;
    let (a, bt, out) = (a.as_ptr(), bt.as_ptr(), out.as_mut_ptr());
    unsafe {
        let mut partial = [[[V::splat(0.0); NV]; R]; LANES];
        for (l, acc) in partial.iter_mut().enumerate() {
            for k in (l..whole).step_by(LANES) {
                let ys: [V; NV] = std::array::from_fn(|v| V::load(bt.add(k * columns + c0 + v * V::WIDTH)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = V::splat(*a.add((r0 + r) * n + k));
                    for v in 0..NV {
                        acc[v] = acc[v].add_product(x, ys[v]);
                    }
                }
            }
        }
        for r in 0..R {
            for v in 0..NV {
                // [`super::fold`]'s tree, a vector of columns at a time.
                let p = |l: usize| partial[l][r][v];
                let sum = |x: V, y: V| x.add(y);
                let folded =
                    sum(sum(sum(p(0), p(1)), sum(p(2), p(3))), sum(sum(p(4), p(5)), sum(p(6), p(7))));
                let mut tail = V::splat(0.0);
                for k in whole..n {
                    let y = V::load(bt.add(k * columns + c0 + v * V::WIDTH));
                    tail = tail.add_product(V::splat(*a.add((r0 + r) * n + k)), y);
                }
                folded.add(tail).store(out.add((r0 + r) * columns + c0 + v * V::WIDTH));
            }
        }
    }
}
