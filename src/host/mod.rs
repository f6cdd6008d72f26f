//! The host network: a dense network's forward and backward passes in plain Rust over the
//! flat parameter layout ([`crate::config::variables`]), with the same bits on every CPU. The
//! native engine trains with these loops, and everything that reaches a run's files on the
//! CPU (evaluations, samples, the discriminator's view) infers with them, never through
//! libtorch's kernels, which pick their instructions (and so their rounding) by CPU.
//!
//! **The same bits on every CPU.** Every number is computed in a fixed order of float32
//! operations that are exactly rounded (add, multiply, divide, square root, compare):
//! - a product sum over a layer's inputs runs in input order, one output at a time;
//! - a sum over the batch (weight and bias gradients) uses [`LANES`] fixed partial sums,
//!   added in a fixed tree at the end, whatever vector width the CPU has;
//! - no fused multiply-add anywhere (Rust never contracts `a * b + c`);
//! - exp, tanh and their relatives come from the `libm` crate, plain Rust, not the platform.
//!
//! Activations are kept feature-major (`[features][points]`), so that every inner loop runs
//! along the batch. The layer products' loops ([`kernels`]) run tiles of several sums side by
//! side in the CPU's vectors (portable, AVX2 or AVX-512, picked at run time), and a large
//! layer may be split over a pool's threads by its outputs ([`in_parts`]); neither changes the
//! order of any one sum, so neither changes a bit.

use std::sync::Mutex;

use anyhow::{Result, bail};
use tch::{Device, Kind, Tensor};

use crate::activation::Activation;
use crate::config::{LayerSpec, parameter_count, variables};
use crate::failure::OutOfMemory;
use crate::model::Need;
use crate::pool::Pool;

mod kernels;
pub(crate) use kernels::dispatched;
pub mod speed;
pub use kernels::Path;
use kernels::Strides;

/// Points one evaluation pass holds at once, so that its buffers stay small whatever the
/// evaluation's size; the points are independent, so the numbers do not depend on it.
const EVAL_CHUNK: usize = 4096;

/// An empty buffer that can grow to `len` numbers without allocating again, or the allocation
/// that failed: with limits on memory, a run too large fails in one line instead of aborting.
pub(crate) fn buffer(len: usize) -> Result<Vec<f32>, OutOfMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| OutOfMemory { bytes: len as u64 * 4 })?;
    Ok(v)
}

/// `len` zeros, allocated as [`buffer`] does.
pub(crate) fn zeros(len: usize) -> Result<Vec<f32>, OutOfMemory> {
    let mut v = buffer(len)?;
    v.resize(len, 0.0);
    Ok(v)
}

/// Partial sums of a reduction over the batch: fixed, so that the order of additions does not
/// depend on the CPU's vector width.
pub(crate) const LANES: usize = 8;

/// One dense layer's place in a network's flat row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layer {
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) activation: Activation,
    /// Offset of the weight, `[outputs, inputs]` row-major.
    pub(crate) weight: usize,
    /// Offset of the bias, `[outputs]`.
    pub(crate) bias: usize,
}

/// A network's layers, as the loops read them.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) layers: Vec<Layer>,
    /// Parameters per member.
    pub(crate) len: usize,
}

impl Shape {
    pub(crate) fn of(specs: &[LayerSpec]) -> Shape {
        let vars = variables(specs);
        let layers = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| Layer {
                inputs: spec.inputs as usize,
                outputs: spec.outputs as usize,
                activation: spec.activation,
                weight: vars[2 * i].offset as usize,
                bias: vars[2 * i + 1].offset as usize,
            })
            .collect();
        Shape { layers, len: parameter_count(specs) as usize }
    }

    pub(crate) fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    pub(crate) fn widest(&self) -> usize {
        self.layers.iter().map(|l| l.inputs.max(l.outputs)).max().expect("a network has layers")
    }

    /// Buffers for a pass over `n` points: the input, then each layer's output.
    pub(crate) fn pass(&self, n: usize) -> Result<Vec<Vec<f32>>, OutOfMemory> {
        let mut widths = vec![self.inputs()];
        widths.extend(self.layers.iter().map(|l| l.outputs));
        widths.into_iter().map(|w| buffer(w * n)).collect()
    }

    pub(crate) fn outputs(&self) -> usize {
        self.layers.last().expect("a network has layers").outputs
    }
}

/// `params` (one member's flat row) of a network of `shape` applied to `points` (point-major
/// `[n][in]`), [`EVAL_CHUNK`] points at a time: `[n][out]`.
pub(crate) fn apply(shape: &Shape, params: &[f32], points: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(points.len() / shape.inputs() * shape.outputs());
    let (mut pass, mut chunk_out) = (vec![Vec::new()], Vec::new());
    for chunk in points.chunks(EVAL_CHUNK * shape.inputs()) {
        transpose(chunk, shape.inputs(), &mut pass[0]);
        forward(shape, params, chunk.len() / shape.inputs(), &mut pass, Loops::single());
        let output = pass.last().expect("a forward pass has an output");
        transpose(output, output.len() / shape.outputs(), &mut chunk_out);
        out.extend_from_slice(&chunk_out);
    }
    out
}

/// One network (a generator or discriminator loaded from a checkpoint, say) applied by the
/// host loops: what `sample`, `evaluate`, `explore` and the discriminator's view use, so that
/// their numbers have the same bits on every CPU, and are those the training run's own
/// evaluations computed.
#[derive(Debug)]
pub struct HostNetwork {
    shape: Shape,
    params: Vec<f32>,
}

impl HostNetwork {
    /// The network of `specs` with the flat parameters `params` (one row, `[1, n]` or `[n]`).
    pub fn new(specs: &[LayerSpec], params: &Tensor) -> Result<HostNetwork> {
        HostNetwork::from_row(specs, host(&params.to_device(Device::Cpu)))
    }

    /// The network of `specs` with the flat parameters `params`.
    pub fn from_row(specs: &[LayerSpec], params: Vec<f32>) -> Result<HostNetwork> {
        let shape = Shape::of(specs);
        if params.len() != shape.len {
            bail!("a network of these layers has {} parameters, not {}", shape.len, params.len());
        }
        Ok(HostNetwork { shape, params })
    }

    /// Numbers of one input, and of one output.
    pub fn widths(&self) -> (usize, usize) {
        (self.shape.inputs(), self.shape.outputs())
    }

    /// `xs: [1, n, in]` (or `[n, in]`) → `[1, n, out]`, on the CPU.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let points = host(&xs.to_device(Device::Cpu));
        let n = (points.len() / self.shape.inputs()) as i64;
        Tensor::from_slice(&self.apply(&points)).view([1, n, self.shape.outputs() as i64])
    }

    /// The network applied to `inputs`, point-major `[n][in]`: `[n][out]`.
    pub fn apply(&self, inputs: &[f32]) -> Vec<f32> {
        apply(&self.shape, &self.params, inputs)
    }

    /// The outputs at `inputs` (point-major `[n][in]`, a network with one output) and the
    /// gradient of a loss with respect to each input, `[n][in]`: `gradient` maps the outputs to
    /// ∂loss/∂output. Everything in one pass, as the generator's update sees the network.
    pub fn input_gradient(
        &self,
        inputs: &[f32],
        gradient: impl Fn(&[f32]) -> Vec<f32>,
    ) -> (Vec<f32>, Vec<f32>) {
        let (width, n) = (self.shape.inputs(), inputs.len() / self.shape.inputs());
        assert_eq!(self.shape.outputs(), 1, "an input gradient is taken of one output");
        if n == 0 {
            return (Vec::new(), Vec::new());
        }
        let mut pass = vec![Vec::new()];
        transpose(inputs, width, &mut pass[0]);
        forward(&self.shape, &self.params, n, &mut pass, Loops::single());
        let outputs = pass.last().expect("a forward pass has an output").clone();
        let mut grad = gradient(&outputs);
        let (mut spare, mut unused) = (Vec::new(), Vec::new());
        backward(
            &self.shape,
            &self.params,
            n,
            &pass,
            &mut grad,
            &mut spare,
            Need::Input,
            &mut unused,
            Loops::single(),
        );
        let mut point_major = Vec::new();
        transpose(&grad, n, &mut point_major);
        (outputs, point_major)
    }
}

/// A CPU float32 tensor's elements in memory order, read where they are (made contiguous
/// first if need be).
pub(crate) struct HostView {
    tensor: Tensor,
    len: usize,
}

impl HostView {
    pub(crate) fn new(t: &Tensor) -> HostView {
        assert_eq!((t.device(), t.kind()), (Device::Cpu, Kind::Float), "the native engine reads CPU float32");
        let tensor = t.contiguous();
        HostView { len: tensor.numel(), tensor }
    }

    pub(crate) fn slice(&self) -> &[f32] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: a contiguous CPU float32 tensor of `len` elements, alive as long as `self`,
        // and only read.
        unsafe { std::slice::from_raw_parts(self.tensor.data_ptr() as *const f32, self.len) }
    }
}

/// A CPU float32 tensor's elements as a vector.
pub(crate) fn host(t: &Tensor) -> Vec<f32> {
    HostView::new(t).slice().to_vec()
}

/// The row-major matrix `values` of `columns` columns, transposed into `out`: point-major
/// `[n][d]` → feature-major `[d][n]` with `columns = d`, and back with `columns = n`.
#[inline(always)]
pub(crate) fn transpose(values: &[f32], columns: usize, out: &mut Vec<f32>) {
    // Square blocks, so that both the rows read and the rows written stay in the cache.
    const BLOCK: usize = 16;
    let rows = values.len() / columns.max(1);
    assert_eq!(rows * columns, values.len(), "whole rows of {columns}");
    // Every number is written below: only a longer array needs filling first.
    out.resize(values.len(), 0.0);
    let (from, to) = (values.as_ptr(), out.as_mut_ptr());
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..columns).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(columns) {
                    // SAFETY: r < rows and c < columns, both arrays rows × columns.
                    unsafe { *to.add(c * rows + r) = *from.add(r * columns + c) };
                }
            }
        }
    }
}

/// How the layer products run: the compiled copy of the loops, and the threads a large layer
/// is split over ([`in_parts`]). Neither changes a bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loops<'a> {
    pub(crate) path: Path,
    /// Parts a large layer is cut into.
    pub(crate) helpers: usize,
    /// The threads that run the parts.
    pub(crate) pool: &'a Pool,
}

/// The pool of a run on one thread.
static NO_POOL: Pool = Pool::none();

impl Loops<'static> {
    /// The CPU's best copy on this thread alone.
    pub(crate) fn single() -> Loops<'static> {
        Loops { path: Path::best(), helpers: 1, pool: &NO_POOL }
    }
}

thread_local! {
    /// A layer's input, point-major, for its weight gradient; kept between calls.
    static TRANSPOSED: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The forward pass of `params` over the `n` points in `pass[0]` (`[in][n]`); layer `l`'s
/// output goes to `pass[l + 1]` (`[out][n]`). A layer large enough is split over helper
/// threads by its outputs ([`in_parts`]); each output's numbers are the same whoever computes
/// them.
#[inline(always)]
pub(crate) fn forward(shape: &Shape, params: &[f32], n: usize, pass: &mut Vec<Vec<f32>>, loops: Loops<'_>) {
    pass.resize_with(shape.layers.len() + 1, Vec::new);
    for (l, layer) in shape.layers.iter().enumerate() {
        let (before, after) = pass.split_at_mut(l + 1);
        let bias = &params[layer.bias..layer.bias + layer.outputs];
        outward(layer, params, Some(bias), &before[l], n, &mut after[0], loops, true);
    }
}

/// `layer`'s product over the `n` points of `x` (`[in][n]`) into `y` (`[out][n]`), from
/// `bias` or from zero, then its activation where `activate` asks: the forward pass, and the
/// forward-mode pass of a penalty's second-order pass.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn outward(
    layer: &Layer,
    params: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    n: usize,
    y: &mut Vec<f32>,
    loops: Loops<'_>,
    activate: bool,
) {
    y.resize(layer.outputs * n, 0.0);
    let weight = &params[layer.weight..layer.weight + layer.outputs * layer.inputs];
    let strides = Strides { row: layer.inputs, term: 1 };
    in_parts(loops.pool, y, n, parts_for(loops.helpers, layer, n), |first, rows| {
        let m = &weight[first * layer.inputs..];
        kernels::combine(loops.path, bias.map(|b| &b[first..]), m, strides, x, n, rows);
        if activate {
            kernels::activate(loops.path, layer.activation, rows);
        }
    });
}

/// `layer`'s transposed product: `Σ_o W[o][i] · grad[o]` for each input `i`, summed in output
/// order, over the `n` points of `grad` (`[out][n]`) into `out` (`[in][n]`).
#[inline(always)]
fn inward(layer: &Layer, params: &[f32], grad: &[f32], n: usize, out: &mut Vec<f32>, loops: Loops<'_>) {
    let weight = &params[layer.weight..layer.weight + layer.outputs * layer.inputs];
    // Every number of `out` is written by the product.
    out.resize(layer.inputs * n, 0.0);
    let strides = Strides { row: 1, term: layer.inputs };
    in_parts(loops.pool, out, n, parts_for(loops.helpers, layer, n), |first, rows| {
        kernels::combine(loops.path, None, &weight[first..], strides, grad, n, rows);
    });
}

/// `layer`'s weight gradient `Σ_p grad[o][p] · input[i][p]` (as [`dot`] sums) over the `n`
/// points of `grad` (`[out][n]`) and `input` (`[in][n]`), into `out` (`[out][in]`).
#[inline(always)]
fn weight_gradient(layer: &Layer, grad: &[f32], input: &[f32], n: usize, out: &mut [f32], loops: Loops<'_>) {
    // The inputs point-major as well, for the kernels' tiles.
    let mut input_t = TRANSPOSED.take();
    transpose(input, n, &mut input_t);
    let input_t_ref: &[f32] = &input_t;
    in_parts(loops.pool, out, layer.inputs, parts_for(loops.helpers, layer, n), |first, rows| {
        let a = &grad[first * n..][..rows.len() / layer.inputs * n];
        kernels::dots(loops.path, a, input, input_t_ref, n, layer.inputs, rows);
    });
    TRANSPOSED.set(input_t);
}

/// Back-propagates `grad` (∂loss/∂output, `[out][n]`) through the layers of `pass`. With
/// [`Need::Params`] the parameters' gradients go to `grads` (the flat layout); with
/// [`Need::Input`] `grad` ends as ∂loss/∂input (`[in][n]`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn backward(
    shape: &Shape,
    params: &[f32],
    n: usize,
    pass: &[Vec<f32>],
    grad: &mut Vec<f32>,
    spare: &mut Vec<f32>,
    need: Need,
    grads: &mut Vec<f32>,
    loops: Loops<'_>,
) {
    if need == Need::Params {
        grads.resize(shape.len, 0.0);
    }
    for (l, layer) in shape.layers.iter().enumerate().rev() {
        let (input, output) = (&pass[l], &pass[l + 1]);
        in_parts(loops.pool, grad, n, parts_for(loops.helpers, layer, n), |first, rows| {
            kernels::derive(loops.path, layer.activation, rows, &output[first * n..]);
        });
        if need == Need::Params {
            let (weight_grads, rest) = grads[layer.weight..].split_at_mut(layer.outputs * layer.inputs);
            let bias_grads = &mut rest[..layer.outputs];
            for (o, g) in grad.chunks_exact(n).enumerate() {
                bias_grads[o] = sum(g);
            }
            weight_gradient(layer, grad, input, n, weight_grads, loops);
            if l == 0 {
                return;
            }
        }
        inward(layer, params, grad, n, spare, loops);
        std::mem::swap(grad, spare);
    }
}

/// What a penalty's second-order pass ([`second_order`]) reuses from call to call.
#[derive(Debug, Default)]
pub(crate) struct SecondOrder {
    /// The tangents `ḣ` of the forward-mode pass: the input's, then each layer's output's.
    tangents: Vec<Vec<f32>>,
    /// Each curved layer's tangent before its activation, `ȧ`.
    slopes: Vec<Vec<f32>>,
    /// The adjoints of `ȧ` and `a` of the layer being passed, and room for the next ones.
    adjoints: [Vec<f32>; 4],
    curvature: Vec<f32>,
    weight_grads: Vec<f32>,
}

/// The gradient with respect to a one-output network's parameters of
/// `Q = Σ_p direction_p · ∇ₓz(x_p)`, the inner product of `direction` (`[in][n]`, taken as
/// constant) with the network's input gradient at the `n` points of `pass`, **added** to
/// `grads`. With `direction = ∂penalty/∂∇ₓz`, this is the penalty's gradient.
///
/// `Q` is the derivative of the output along `direction`, so a forward-mode pass carries the
/// tangents `ȧ = W·ḣ`, `ḣ = f′(a)·ȧ` from `ḣ₀ = direction`, and `Q = Σ ż`; then one backward
/// pass carries two adjoints, of `ȧ` and of `a` (`Ȧ`, `Ā`):
///
/// ```text
/// ∂Q/∂W = Ȧ·ḣᵀ + Ā·hᵀ        ∂Q/∂b = Σ Ā
/// Ȧ′ = f′(a′)·(Wᵀ Ȧ)          Ā′ = f′(a′)·(Wᵀ Ā) + f″(a′)·ȧ′·(Wᵀ Ȧ)
/// ```
///
/// from `Ȧ = 1`, `Ā = 0` at the output. For layers straight on each side of 0 (ReLU and its
/// relatives) `f″ = 0` and `Ā` stays zero: the pass goes through the weights alone.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn second_order(
    shape: &Shape,
    params: &[f32],
    n: usize,
    pass: &[Vec<f32>],
    direction: &[f32],
    work: &mut SecondOrder,
    grads: &mut [f32],
    loops: Loops<'_>,
) {
    assert_eq!(shape.outputs(), 1, "a penalty's pass is taken of one output");
    let layers = &shape.layers;
    let SecondOrder { tangents, slopes, adjoints, curvature, weight_grads } = work;
    tangents.resize_with(layers.len() + 1, Vec::new);
    slopes.resize_with(layers.len(), Vec::new);
    tangents[0].clear();
    tangents[0].extend_from_slice(direction);
    for (l, layer) in layers.iter().enumerate() {
        let (before, after) = tangents.split_at_mut(l + 1);
        let tangent = &mut after[0];
        outward(layer, params, None, &before[l], n, tangent, loops, false);
        if layer.activation.is_curved() {
            slopes[l].clear();
            slopes[l].extend_from_slice(tangent);
        }
        kernels::derive(loops.path, layer.activation, tangent, &pass[l + 1]);
    }
    let [adj_dot, adj, next_dot, next] = adjoints;
    adj_dot.clear();
    adj_dot.resize(n, 1.0);
    // Whether `Ā` holds anything but zeros.
    let mut curved = false;
    for (l, layer) in layers.iter().enumerate().rev() {
        let (weight, bias) = (layer.weight, layer.bias);
        weight_grads.resize(layer.outputs * layer.inputs, 0.0);
        weight_gradient(layer, adj_dot, &tangents[l], n, weight_grads, loops);
        add(&mut grads[weight..weight + weight_grads.len()], weight_grads);
        if curved {
            weight_gradient(layer, adj, &pass[l], n, weight_grads, loops);
            add(&mut grads[weight..weight + weight_grads.len()], weight_grads);
            for (o, a) in adj.chunks_exact(n).enumerate() {
                grads[bias + o] += sum(a);
            }
        }
        if l == 0 {
            return;
        }
        inward(layer, params, adj_dot, n, next_dot, loops);
        if curved {
            inward(layer, params, adj, n, next, loops);
        }
        let (below, output) = (&layers[l - 1], &pass[l]);
        if below.activation.is_curved() {
            curvature.clear();
            curvature.extend_from_slice(next_dot);
            below.activation.second_host(curvature, output);
            for (c, s) in curvature.iter_mut().zip(&slopes[l - 1]) {
                *c *= s;
            }
        }
        kernels::derive(loops.path, below.activation, next_dot, output);
        if curved {
            kernels::derive(loops.path, below.activation, next, output);
        }
        if below.activation.is_curved() {
            if curved {
                add(next, curvature);
            } else {
                std::mem::swap(next, curvature);
            }
            curved = true;
        }
        std::mem::swap(adj_dot, next_dot);
        std::mem::swap(adj, next);
    }
}

/// `into += from`, number by number.
#[inline(always)]
fn add(into: &mut [f32], from: &[f32]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// The multiply-adds a layer's product must take before it is split over threads: below it,
/// starting a thread costs more than it saves.
const PARALLEL_WORK: usize = 1 << 18;

/// How many parts `layer`'s products over `n` points are split into: one, or `helpers` when
/// the layer is large enough.
fn parts_for(helpers: usize, layer: &Layer, n: usize) -> usize {
    if helpers > 1 && layer.inputs * layer.outputs * n >= PARALLEL_WORK { helpers } else { 1 }
}

/// Runs `work(first, chunk)` over `out`, cut into `parts` runs of whole units of `unit`
/// numbers (`first` is the chunk's first unit), on the threads of `pool`. The runs write
/// disjoint numbers, each computed as it would be alone.
fn in_parts(
    pool: &Pool,
    out: &mut [f32],
    unit: usize,
    parts: usize,
    work: impl Fn(usize, &mut [f32]) + Sync,
) {
    let units = out.len() / unit.max(1);
    if parts <= 1 || units < 2 {
        work(0, out);
        return;
    }
    let per_part = units.div_ceil(parts);
    let chunks: Vec<Mutex<&mut [f32]>> = out.chunks_mut(per_part * unit).map(Mutex::new).collect();
    pool.run(chunks.len(), &|p| {
        let mut chunk = chunks[p].lock().unwrap_or_else(|e| e.into_inner());
        work(p * per_part, &mut chunk);
    });
}

/// `Σ a·b` over the batch (`a` and `b` of one length), in [`LANES`] partial sums added in a
/// fixed tree, then the last few in order. Each block of [`LANES`] is taken as an array, so
/// the lanes' sums are one vector operation whatever the compiler judges of iterator adapters.
// The order every weight gradient's sum follows ([`kernels::dots`]); the tests hold the
// kernels to it.
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let whole = a.len() / LANES * LANES;
    let (a, a_tail) = a.split_at(whole);
    let (b, b_tail) = b[..a.len() + a_tail.len()].split_at(whole);
    let mut acc = [0f32; LANES];
    for k in 0..whole / LANES {
        let x: &[f32; LANES] = a[k * LANES..][..LANES].try_into().expect("a whole block");
        let y: &[f32; LANES] = b[k * LANES..][..LANES].try_into().expect("a whole block");
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in a_tail.iter().zip(b_tail) {
        tail += x * y;
    }
    fold(acc) + tail
}

/// `Σ a` over the batch, as [`dot`] sums.
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let whole = a.len() / LANES * LANES;
    let (a, a_tail) = a.split_at(whole);
    let mut acc = [0f32; LANES];
    for k in 0..whole / LANES {
        let x: &[f32; LANES] = a[k * LANES..][..LANES].try_into().expect("a whole block");
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
    let mut tail = 0f32;
    for &x in a_tail {
        tail += x;
    }
    fold(acc) + tail
}

/// The partial sums added pairwise, always in the same tree.
#[inline(always)]
fn fold(acc: [f32; LANES]) -> f32 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::loss::{self, Loss, Term};
    use crate::model::Discriminator;

    /// The tiled kernels against the plainest loops in the order the module documentation
    /// fixes (a product sum in input order from the bias; a batch sum in [`LANES`] partial sums
    /// folded in one tree; the input gradient in output order), bit for bit, at widths and
    /// batches around every tile's edges.
    #[test]
    fn the_tiled_kernels_give_the_plain_loops_bits() {
        let mut seed = 0x1234_5678_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        // Widths and batches around every tile's and vector's edges, and layers of more
        // than one pass (over 256 inputs, or over 256 KB of weights).
        for (widths, n) in [
            (vec![2, 1, 3, 2], 1),
            (vec![2, 5, 9, 1], 7),
            (vec![3, 8, 4, 4], 8),
            (vec![4, 17, 13, 2], 9),
            (vec![2, 33, 1], 65),
            (vec![5, 47, 19, 2], 40),
            (vec![3, 300, 257, 1], 33),
            (vec![1, 1024, 70], 17),
        ] {
            for path in Path::available() {
                let loops = Loops { path, helpers: 1, pool: &NO_POOL };
                let specs: Vec<LayerSpec> = widths
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| LayerSpec {
                        name: "hidden",
                        inputs: w[0] as i64,
                        outputs: w[1] as i64,
                        activation: if i + 2 < widths.len() { Activation::Tanh } else { Activation::Linear },
                        init: crate::config::Init::GlorotUniform,
                    })
                    .collect();
                let shape = Shape::of(&specs);
                let params: Vec<f32> = (0..shape.len).map(|_| next()).collect();
                let input: Vec<f32> = (0..widths[0] * n).map(|_| next()).collect();
                let mut pass = vec![input.clone()];
                forward(&shape, &params, n, &mut pass, loops);
                // The plain forward pass.
                let mut plain = vec![input];
                for layer in &shape.layers {
                    let x = plain.last().unwrap().clone();
                    let mut y = vec![0f32; layer.outputs * n];
                    for o in 0..layer.outputs {
                        for p in 0..n {
                            let mut acc = params[layer.bias + o];
                            for j in 0..layer.inputs {
                                acc += params[layer.weight + o * layer.inputs + j] * x[j * n + p];
                            }
                            y[o * n + p] = acc;
                        }
                    }
                    layer.activation.apply_host(&mut y);
                    plain.push(y);
                }
                let at = format!("{}, widths {widths:?}, n {n}", path.name());
                assert_same_bits(&pass.concat(), &plain.concat(), &format!("forward, {at}"));
                // Backward, both needs, against plain loops over the same pass.
                let top: Vec<f32> = (0..widths[widths.len() - 1] * n).map(|_| next()).collect();
                let (mut grad, mut spare, mut grads) = (top.clone(), Vec::new(), Vec::new());
                backward(&shape, &params, n, &pass, &mut grad, &mut spare, Need::Params, &mut grads, loops);
                let (mut input_grad, mut unused) = (top.clone(), Vec::new());
                backward(
                    &shape,
                    &params,
                    n,
                    &pass,
                    &mut input_grad,
                    &mut spare,
                    Need::Input,
                    &mut unused,
                    loops,
                );
                let (mut g, mut plain_grads) = (top, vec![0f32; shape.len]);
                for (l, layer) in shape.layers.iter().enumerate().rev() {
                    layer.activation.derive_host(&mut g, &pass[l + 1]);
                    for o in 0..layer.outputs {
                        let go = &g[o * n..(o + 1) * n];
                        plain_grads[layer.bias + o] = sum(go);
                        for i in 0..layer.inputs {
                            plain_grads[layer.weight + o * layer.inputs + i] =
                                dot(go, &pass[l][i * n..(i + 1) * n]);
                        }
                    }
                    let mut below = vec![0f32; layer.inputs * n];
                    for i in 0..layer.inputs {
                        for p in 0..n {
                            let mut acc = 0f32;
                            for o in 0..layer.outputs {
                                acc += params[layer.weight + o * layer.inputs + i] * g[o * n + p];
                            }
                            below[i * n + p] = acc;
                        }
                    }
                    g = below;
                }
                assert_same_bits(&grads, &plain_grads, &format!("parameter gradients, {at}"));
                assert_same_bits(&input_grad, &g, &format!("input gradient, {at}"));
            }
        }
    }

    /// Fails, naming `what` and the first number that differs, unless `a` and `b` hold the
    /// same bits.
    fn assert_same_bits(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
            panic!("{what}: number {i} of {} differs: {} against {}", a.len(), a[i], b[i]);
        }
    }

    /// The host's input gradient against the tensor networks' hand-written backward pass,
    /// which is tested against autograd, for a packing discriminator of two layers.
    #[test]
    fn the_input_gradient_agrees_with_the_tensor_networks() {
        let cfg = ModelConfig { discriminator_hidden: vec![9, 6], pack: 2, ..ModelConfig::default() };
        let params = crate::rng::test_normal(3, &[1, parameter_count(&cfg.discriminator_layers())]) * 0.5;
        let host = HostNetwork::new(&cfg.discriminator_layers(), &params).unwrap();
        let xs = crate::rng::test_normal(4, &[1, 10, 4]);
        let n = 10.0;
        let (logits, grad) = host.input_gradient(&self::host(&xs), |z| {
            z.iter().map(|&z| Loss::Hinge.point_gradient(Term::Generator, z, n)).collect()
        });
        let d = Discriminator::new(&cfg, params);
        let acts = d.network().forward_cached(&xs.view([1, 20, 2]));
        let expected = loss::gradient(Loss::Hinge, Term::Generator, &acts.output());
        let theirs = d.network().backward(&acts, expected, Need::Input).unwrap();
        let close =
            |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs()));
        assert!(close(&logits, &self::host(&acts.output())), "{logits:?}");
        assert_eq!(grad.len(), 40);
        assert!(close(&grad, &self::host(&theirs)), "{grad:?}");
        assert_eq!(host.input_gradient(&[], |_| Vec::new()), (Vec::new(), Vec::new()));
    }
}
