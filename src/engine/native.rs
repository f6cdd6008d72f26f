//! The native engine: the whole iteration in plain Rust over the flat parameter layout, for K
//! members, without a libtorch call inside the loop. The default on the CPU.
//!
//! At this size (an iteration is about 0.2 MFLOP) libtorch's cost is its calls, not their
//! arithmetic; here an iteration is a few loops over arrays that stay in the first-level cache.
//! The layers' passes are [`crate::host`]'s, with the same bits on every CPU; this file owns the
//! iteration around them (rounds, packing, pairing, the generator's pass) and Adam.
//!
//! The hot loops are compiled per instruction set (any CPU, AVX2, and AVX-512 for the layer
//! products) and chosen at run time; all are the same operations in the same order, so they
//! give the same bits (tests check). Members are independent: `--threads N` splits them over a
//! pool of threads kept for the run, threads left over split each member's large layers by
//! their outputs (`host`), and member S's numbers are those of `--seed S` alone, bit for bit,
//! whatever K and N are.

use std::sync::Mutex;

use anyhow::{Result, bail};
use tch::{Device, Tensor};

use super::iteration::{Backend, Logits, iteration};
use super::{Batches, Engine, Net, NetState, Rules, StepLosses};
use crate::adam::AdamStep;
use crate::config::{ModelConfig, POINT_DIM};
use crate::failure::OutOfMemory;
use crate::host::{
    HostView, Loops, Path, SecondOrder, Shape, apply, backward, buffer, forward, host, second_order,
    transpose, zeros,
};
use crate::loss::{self, Term};
use crate::model::Need;
use crate::penalty::{self, DRAWS_PER_POINT};
use crate::pool::Pool;
use crate::spectral::{self, Estimates};
use crate::state::Spectral;

/// One network of K members: parameters and Adam moments, `K × len` each, member by member in
/// the flat layout, and the updates taken so far.
#[derive(Debug)]
struct Net32 {
    /// The network as it computes (under spectral normalisation, its normalised weights).
    params: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    steps: u64,
    /// Under spectral normalisation, the parameters Adam trains, `K × len`, and each member's
    /// `u` ([`spectral`]); empty otherwise.
    raw: Vec<f32>,
    u: Vec<f32>,
}

impl Net32 {
    fn zeros(shape: &Shape, k: usize) -> Result<Net32, OutOfMemory> {
        let n = shape.len * k;
        Ok(Net32 { params: zeros(n)?, m: zeros(n)?, v: zeros(n)?, steps: 0, raw: Vec::new(), u: Vec::new() })
    }
}

/// What one thread reuses from iteration to iteration: buffers handed from operation to
/// operation and each network's passes, given back after use, so that after the first
/// iteration none is allocated; and the parameters' gradients.
#[derive(Debug, Default)]
struct Scratch {
    /// Buffers not in use.
    free: Vec<Vec<f32>>,
    /// Passes not in use, by network (generator first).
    passes: [Vec<Vec<Vec<f32>>>; 2],
    spare: Vec<f32>,
    g_grads: Vec<f32>,
    d_grads: Vec<f32>,
    /// A penalty's second-order pass.
    second: SecondOrder,
    /// The discriminator's σ estimates of the update being taken, under spectral
    /// normalisation.
    estimates: Estimates,
}

impl Scratch {
    /// Buffers for networks of `g` and `d` training on batches of `batch` points: enough for
    /// an iteration, each as large as the largest array it may hold, so that a run too large
    /// for memory fails here, in one line, rather than in the loop.
    fn new(g: &Shape, d: &Shape, batch: usize) -> Result<Scratch, OutOfMemory> {
        let widest = g.widest().max(d.widest()) * batch;
        Ok(Scratch {
            free: (0..BUFFERS).map(|_| buffer(widest)).collect::<Result<_, _>>()?,
            passes: [vec![g.pass(batch)?], vec![d.pass(batch)?]],
            spare: buffer(widest)?,
            g_grads: buffer(g.len)?,
            d_grads: buffer(d.len)?,
            second: SecondOrder::default(),
            estimates: Estimates::default(),
        })
    }

    /// An empty buffer.
    #[inline(always)]
    fn take(&mut self) -> Vec<f32> {
        let mut v = self.free.pop().unwrap_or_default();
        v.clear();
        v
    }

    /// Gives a buffer back.
    #[inline(always)]
    fn give(&mut self, v: Vec<f32>) {
        self.free.push(v);
    }
}

/// Buffers an iteration holds at once at most (batches in flight, beside the passes).
const BUFFERS: usize = 8;

/// One member's part of an iteration: its rows of both networks, its draws and where its
/// logits go.
struct Work<'a> {
    g: [&'a mut [f32]; 3],
    d: [&'a mut [f32]; 3],
    /// `d_steps` rounds of `half` real points.
    real: &'a [f32],
    /// `d_steps` rounds of `half` latent points.
    latent_half: &'a [f32],
    latent_full: &'a [f32],
    /// `d_steps` rounds of `half` points' penalty draws (empty without a penalty that draws).
    penalty: &'a [f32],
    /// Under spectral normalisation, the discriminator's trained parameters and its `u`.
    d_spectral: Option<(&'a mut [f32], &'a mut [f32])>,
    /// The last round's `d_real` (half), `d_fake` (half), then `g` (batch).
    logits: &'a mut [f32],
}

/// What every member's iteration shares: the shapes, the batch sizes, the loss, the Adam
/// constants.
#[derive(Debug, Clone, Copy)]
struct Plan<'a> {
    g: &'a Shape,
    d: &'a Shape,
    /// Points of a discriminator update.
    half: usize,
    /// Points the discriminator judges at once: it judges `half / pack` and `batch / pack`.
    pack: usize,
    rules: Rules,
    /// The discriminator's updates in order: two a round (real, fake), or one for a paired
    /// loss.
    d_updates: &'a [AdamStep],
    g_step: AdamStep,
    /// The copy of the loops, and the threads each member's large layer products are split
    /// over (1 when members fill the threads); the numbers depend on neither.
    loops: Loops<'a>,
}

/// The two networks of K members and the threads that train them.
#[derive(Debug)]
pub struct NativeEngine {
    g_shape: Shape,
    d_shape: Shape,
    generator: Net32,
    discriminator: Net32,
    rules: Rules,
    k: usize,
    /// Points per generator update.
    batch: usize,
    /// Points the discriminator judges at once.
    pack: usize,
    threads: usize,
    /// The copy of the loops: see [`Plan::loops`].
    path: Path,
    /// Parts each member's large layers are cut into: see [`Plan::loops`].
    helpers: usize,
    /// The threads members and parts run on, kept for the run.
    pool: Pool,
    scratch: Vec<Scratch>,
    /// The discriminator's Adam constants of the iteration being taken, refilled each step.
    d_updates: Vec<AdamStep>,
}

impl NativeEngine {
    /// K members' networks of `model_cfg` for updates of `batch` points by `rules`, every
    /// parameter zero: [`Engine::import`] gives them their state. Every buffer an iteration
    /// uses is allocated here; one that does not fit in memory is an [`OutOfMemory`] error.
    pub fn new(model_cfg: &ModelConfig, rules: Rules, k: i64, batch: i64) -> Result<Self> {
        let (k, batch) = (k as usize, batch as usize);
        let g_shape = Shape::of(&Net::Generator.layers(model_cfg));
        let d_shape = Shape::of(&Net::Discriminator.layers(model_cfg));
        // An iteration's logits, made anew at each step: check once that they fit.
        drop(buffer(k * 2 * batch)?);
        Ok(NativeEngine {
            generator: Net32::zeros(&g_shape, k)?,
            discriminator: Net32::zeros(&d_shape, k)?,
            scratch: vec![Scratch::new(&g_shape, &d_shape, batch)?],
            g_shape,
            d_shape,
            rules,
            k,
            batch,
            pack: model_cfg.pack as usize,
            threads: 1,
            path: Path::best(),
            helpers: 1,
            pool: Pool::none(),
            d_updates: Vec::with_capacity(rules.d_updates() as usize),
        })
    }

    fn net(&self, net: Net) -> (&Shape, &Net32) {
        match net {
            Net::Generator => (&self.g_shape, &self.generator),
            Net::Discriminator => (&self.d_shape, &self.discriminator),
        }
    }

    /// `net` of member `k` applied to `points` (point-major `[n][in]`): `[n][out]`.
    fn apply(&self, net: Net, k: usize, points: &[f32]) -> Vec<f32> {
        let (shape, network) = self.net(net);
        apply(shape, &network.params[k * shape.len..(k + 1) * shape.len], points)
    }
}

impl Engine for NativeEngine {
    fn members(&self) -> i64 {
        self.k as i64
    }

    fn set_threads(&mut self, threads: usize) -> Result<()> {
        // Members fill the threads first; threads left over split each member's large layers.
        let members = threads.clamp(1, self.k);
        while self.scratch.len() < members {
            self.scratch.push(Scratch::new(&self.g_shape, &self.d_shape, self.batch)?);
        }
        self.threads = members;
        // More helpers than cores only adds threads to start.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.helpers = (threads / members).clamp(1, cores);
        // Threads beyond the cores would only wait for one: the parts queue up instead.
        let wanted = members.max(self.helpers).min(cores);
        if self.pool.threads() != wanted {
            self.pool = Pool::new(wanted);
        }
        Ok(())
    }

    fn step(&mut self, batches: &Batches) -> StepLosses {
        let views = [batches.real, batches.latent_half, batches.latent_full].map(HostView::new);
        let [real, latent_half, latent_full] = [&views[0], &views[1], &views[2]].map(HostView::slice);
        let penalty_view = batches.penalty.map(HostView::new);
        let penalty_draws = penalty_view.as_ref().map_or(&[][..], HostView::slice);
        let draws_each = penalty_draws.len() / self.k;
        let (k, rules) = (self.k, self.rules);
        let half = real.len() / (2 * k * rules.d_steps);
        let batch = latent_full.len() / (k * self.g_shape.inputs());
        let (g_steps, d_steps) = (self.generator.steps, self.discriminator.steps);
        self.d_updates.clear();
        self.d_updates
            .extend((1..=rules.d_updates()).map(|t| AdamStep::new(rules.discriminator, d_steps + t)));
        let plan = Plan {
            g: &self.g_shape,
            d: &self.d_shape,
            half,
            pack: self.pack,
            rules,
            d_updates: &self.d_updates,
            g_step: AdamStep::new(rules.generator, g_steps + 1),
            loops: Loops { path: self.path, helpers: self.helpers, pool: &self.pool },
        };
        let (judged_half, judged_batch) = (half / self.pack, batch / self.pack);
        let per_member = 2 * judged_half + judged_batch;
        let mut logits = vec![0f32; k * per_member];
        let (gl, dl) = (plan.g.len, plan.d.len);
        let g = &mut self.generator;
        let d = &mut self.discriminator;
        let u_len = d.u.len() / k;
        let mut d_spectral: Vec<Option<(&mut [f32], &mut [f32])>> = if rules.spectral_norm {
            d.raw.chunks_exact_mut(dl).zip(d.u.chunks_exact_mut(u_len)).map(Some).collect()
        } else {
            (0..k).map(|_| None).collect()
        };
        let mut work: Vec<Work> = g
            .params
            .chunks_exact_mut(gl)
            .zip(g.m.chunks_exact_mut(gl))
            .zip(g.v.chunks_exact_mut(gl))
            .zip(d.params.chunks_exact_mut(dl).zip(d.m.chunks_exact_mut(dl)).zip(d.v.chunks_exact_mut(dl)))
            .zip(real.chunks_exact(real.len() / k))
            .zip(latent_half.chunks_exact(latent_half.len() / k))
            .zip(latent_full.chunks_exact(latent_full.len() / k))
            .zip(logits.chunks_exact_mut(per_member))
            .enumerate()
            .map(|(member, (((((((gp, gm), gv), ((dp, dm), dv)), real), lh), lf), logits))| Work {
                g: [gp, gm, gv],
                d: [dp, dm, dv],
                real,
                latent_half: lh,
                latent_full: lf,
                penalty: &penalty_draws[member * draws_each..(member + 1) * draws_each],
                d_spectral: d_spectral[member].take(),
                logits,
            })
            .collect();
        if self.threads <= 1 {
            let scratch = &mut self.scratch[0];
            for w in work.iter_mut() {
                kernels::member_step(&plan, w, scratch);
            }
        } else {
            let per_thread = k.div_ceil(self.threads);
            let shares: Vec<Mutex<(&mut [Work], &mut Scratch)>> =
                work.chunks_mut(per_thread).zip(self.scratch.iter_mut()).map(Mutex::new).collect();
            plan.loops.pool.run(shares.len(), &|t| {
                let mut share = shares[t].lock().unwrap_or_else(|e| e.into_inner());
                let (chunk, scratch) = &mut *share;
                for w in chunk.iter_mut() {
                    kernels::member_step(&plan, w, scratch);
                }
            });
        }
        drop(work);
        self.generator.steps += 1;
        self.discriminator.steps += rules.d_updates();
        StepLosses::from_host(rules.loss, judged_half, judged_batch, logits)
    }

    fn forward(&self, net: Net, xs: &Tensor) -> Tensor {
        let size = xs.size();
        let points = host(xs);
        let per_member = points.len() / self.k;
        // A packing discriminator judges whole packs of consecutive points.
        let (inputs, outputs) = (self.net(net).0.inputs(), self.net(net).0.outputs() as i64);
        let judged = per_member / inputs;
        let out: Vec<f32> = points
            .chunks_exact(per_member)
            .enumerate()
            .flat_map(|(k, p)| self.apply(net, k, &p[..judged * inputs]))
            .collect();
        Tensor::from_slice(&out).view([size[0], judged as i64, outputs])
    }

    fn forward_member(&self, k: i64, net: Net, xs: &Tensor) -> Tensor {
        let points = host(xs);
        let (inputs, outputs) = (self.net(net).0.inputs(), self.net(net).0.outputs() as i64);
        let judged = points.len() / inputs;
        let out = self.apply(net, k as usize, &points[..judged * inputs]);
        Tensor::from_slice(&out).view([1, judged as i64, outputs])
    }

    fn set_learning_rates(&mut self, generator: f64, discriminator: f64) {
        self.rules.generator.learning_rate = generator;
        self.rules.discriminator.learning_rate = discriminator;
    }

    fn export(&self, net: Net) -> NetState {
        let (_, network) = self.net(net);
        let tensor = |v: &[f32]| Tensor::from_slice(v).view([self.k as i64, -1]);
        NetState {
            params: tensor(&network.params),
            m: tensor(&network.m),
            v: tensor(&network.v),
            steps: network.steps,
            spectral: (net == Net::Discriminator && self.rules.spectral_norm)
                .then(|| Spectral { raw: tensor(&network.raw), u: tensor(&network.u) }),
        }
    }

    fn import(&mut self, net: Net, state: &NetState) -> Result<()> {
        let (k, n) = (self.k as i64, self.net(net).0.len as i64);
        state.check(net, k, n)?;
        let on_host = state.to_device(Device::Cpu);
        let (params, m, v) = (host(&on_host.params), host(&on_host.m), host(&on_host.v));
        if params.len() != (k * n) as usize {
            bail!("the {} state holds {} numbers, expected {}", net.name(), params.len(), k * n);
        }
        let spectral = net == Net::Discriminator && self.rules.spectral_norm;
        let shape = self.net(net).0.clone();
        let network = match net {
            Net::Generator => &mut self.generator,
            Net::Discriminator => &mut self.discriminator,
        };
        (network.params, network.m, network.v, network.steps) = (params, m, v, state.steps);
        if spectral {
            // A fresh state's parameters are those Adam trains, from the first u.
            let (raw, u) = match &on_host.spectral {
                Some(s) => {
                    let (raw, u) = (host(&s.raw), host(&s.u));
                    let u_len = spectral::u_len(&shape) * self.k;
                    if raw.len() != network.params.len() || u.len() != u_len {
                        bail!(
                            "the {} spectral state holds {} and {} numbers, expected {} and {u_len}",
                            net.name(),
                            raw.len(),
                            u.len(),
                            network.params.len()
                        );
                    }
                    (raw, u)
                }
                None => (network.params.clone(), spectral::first_u(&shape).repeat(self.k)),
            };
            (network.raw, network.u) = (raw, u);
            let mut estimates = Estimates::default();
            let u_len = network.u.len() / self.k;
            for ((raw, u), params) in network
                .raw
                .chunks_exact(shape.len)
                .zip(network.u.chunks_exact(u_len))
                .zip(network.params.chunks_exact_mut(shape.len))
            {
                spectral::host_refresh(&shape, raw, u, &mut estimates);
                spectral::host_apply(&shape, raw, &estimates, params);
            }
        }
        Ok(())
    }
}

/// The loops outside the layer products. [`member_step`] is compiled twice: for any x86-64 CPU,
/// and with AVX2 where the plan's copy of the loops is not the portable one; everything it
/// calls is inlined into it, so both copies run the same operations in the same order. The
/// layer products pick their own copy ([`crate::host::Path`]), AVX-512 included.
mod kernels {
    use super::*;

    /// One member's iteration, in the copy that suits the CPU.
    pub(super) fn member_step(plan: &Plan, w: &mut Work, s: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if plan.loops.path != Path::Portable {
            // SAFETY: the CPU has AVX2, checked at run time.
            unsafe { member_step_avx2(plan, w, s) };
            return;
        }
        member_step_portable(plan, w, s)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn member_step_avx2(plan: &Plan, w: &mut Work, s: &mut Scratch) {
        step_body(plan, w, s)
    }

    fn member_step_portable(plan: &Plan, w: &mut Work, s: &mut Scratch) {
        step_body(plan, w, s)
    }

    /// One member's iteration: the algorithm of [`iteration`] over this member's rows, its
    /// logits copied to `w.logits`.
    #[inline(always)]
    fn step_body(plan: &Plan, w: &mut Work, s: &mut Scratch) {
        let mut member = Member { plan, w, s, d_update: 0 };
        let Logits { d_real, d_fake, g } = iteration(&mut member, &plan.rules);
        let Member { w, s, .. } = member;
        let (judged_half, _) = (d_real.values.len(), d_fake.values.len());
        w.logits[..judged_half].copy_from_slice(&d_real.values);
        w.logits[judged_half..2 * judged_half].copy_from_slice(&d_fake.values);
        w.logits[2 * judged_half..].copy_from_slice(&g.values);
        for rows in [d_real, d_fake, g] {
            s.give(rows.values);
        }
    }

    /// A feature-major array: `width` rows of `n` values, one row a feature (a coordinate of
    /// points, a unit of a layer, the logit).
    pub(super) struct Rows {
        pub(super) values: Vec<f32>,
        width: usize,
    }

    impl Rows {
        #[inline(always)]
        fn n(&self) -> usize {
            self.values.len() / self.width
        }
    }

    /// A network's pass over `n` points: its input, then each layer's output, feature-major.
    pub(super) struct Pass {
        net: Net,
        layers: Vec<Vec<f32>>,
        n: usize,
    }

    /// One member's iteration on the host: its rows of the networks, its draws, and the
    /// thread's buffers.
    struct Member<'p, 'w, 'a> {
        plan: &'p Plan<'p>,
        w: &'w mut Work<'a>,
        s: &'w mut Scratch,
        /// The discriminator's updates taken in this iteration.
        d_update: usize,
    }

    impl Member<'_, '_, '_> {
        #[inline(always)]
        fn shape(&self, net: Net) -> &Shape {
            match net {
                Net::Generator => self.plan.g,
                Net::Discriminator => self.plan.d,
            }
        }

        /// Back-propagates `grad` through `pass` of `net`: with [`Need::Params`] into the
        /// network's parameter gradients, with [`Need::Input`] leaving ∂loss/∂input in `grad`.
        #[inline(always)]
        fn back(&mut self, net: Net, pass: &Pass, grad: &mut Vec<f32>, need: Need) {
            let s = &mut *self.s;
            let (shape, params, grads) = match net {
                Net::Generator => (self.plan.g, &*self.w.g[0], &mut s.g_grads),
                Net::Discriminator => (self.plan.d, &*self.w.d[0], &mut s.d_grads),
            };
            backward(shape, params, pass.n, &pass.layers, grad, &mut s.spare, need, grads, self.plan.loops);
        }

        /// `points` (point-major, `columns` numbers a point) as rows.
        #[inline(always)]
        fn rows_of(&mut self, points: &[f32], columns: usize) -> Rows {
            let mut values = self.s.take();
            transpose(points, columns, &mut values);
            Rows { values, width: columns }
        }
    }

    impl Backend for Member<'_, '_, '_> {
        type Batch = Rows;
        type Pass = Pass;

        #[inline(always)]
        fn real(&mut self, round: usize) -> Rows {
            let size = self.plan.half * POINT_DIM as usize;
            let real = &self.w.real[round * size..(round + 1) * size];
            self.rows_of(real, POINT_DIM as usize)
        }

        #[inline(always)]
        fn latent_half(&mut self, round: usize) -> Rows {
            let g_in = self.plan.g.inputs();
            let size = self.plan.half * g_in;
            let latent = &self.w.latent_half[round * size..(round + 1) * size];
            self.rows_of(latent, g_in)
        }

        #[inline(always)]
        fn latent_full(&mut self) -> Rows {
            let latent = self.w.latent_full;
            self.rows_of(latent, self.plan.g.inputs())
        }

        #[inline(always)]
        fn power_iteration(&mut self) {
            let w = &mut *self.w;
            if let Some((raw, u)) = &mut w.d_spectral {
                let (shape, s) = (self.plan.d, &mut *self.s);
                spectral::host_iterate(shape, raw, u, &mut s.estimates);
                spectral::host_apply(shape, raw, &s.estimates, w.d[0]);
            }
        }

        #[inline(always)]
        fn penalty_draws(&mut self, round: usize) -> Rows {
            let size = self.plan.half * DRAWS_PER_POINT as usize;
            let draws = &self.w.penalty[round * size..(round + 1) * size];
            self.rows_of(draws, DRAWS_PER_POINT as usize)
        }

        #[inline(always)]
        fn copy(&mut self, batch: &Rows) -> Rows {
            let mut values = self.s.take();
            values.extend_from_slice(&batch.values);
            Rows { values, width: batch.width }
        }

        #[inline(always)]
        fn mix(&mut self, real: &Rows, fake: &Rows, draws: Rows) -> Rows {
            let mut values = self.s.take();
            penalty::host_mix(&real.values, &fake.values, &draws.values, &mut values);
            self.s.give(draws.values);
            Rows { values, width: real.width }
        }

        #[inline(always)]
        fn perturb(&mut self, real: &Rows, draws: Rows) -> Rows {
            let mut values = self.s.take();
            penalty::host_perturb(&real.values, &draws.values, &mut values);
            self.s.give(draws.values);
            Rows { values, width: real.width }
        }

        #[inline(always)]
        fn penalise(&mut self, packs: Rows) {
            let rule = self.plan.rules.penalty.expect("a run with a penalty");
            let pass = Backend::forward(self, Net::Discriminator, packs);
            let n = pass.n;
            // The input gradient of the logit, then the penalty's direction from it.
            let mut direction = self.s.take();
            direction.resize(n, 1.0);
            self.back(Net::Discriminator, &pass, &mut direction, Need::Input);
            penalty::host_direction(rule, &mut direction, n);
            let s = &mut *self.s;
            let params = &*self.w.d[0];
            second_order(
                self.plan.d,
                params,
                n,
                &pass.layers,
                &direction,
                &mut s.second,
                &mut s.d_grads,
                self.plan.loops,
            );
            s.give(direction);
            self.discard(pass);
        }

        #[inline(always)]
        fn forward(&mut self, net: Net, input: Rows) -> Pass {
            let n = input.n();
            let mut layers = self.s.passes[net as usize].pop().unwrap_or_default();
            if layers.is_empty() {
                layers.push(Vec::new());
            }
            let old = std::mem::replace(&mut layers[0], input.values);
            self.s.give(old);
            let params = match net {
                Net::Generator => &*self.w.g[0],
                Net::Discriminator => &*self.w.d[0],
            };
            forward(self.shape(net), params, n, &mut layers, self.plan.loops);
            Pass { net, layers, n }
        }

        #[inline(always)]
        fn output(&mut self, pass: &Pass) -> Rows {
            let last = pass.layers.last().expect("a network has layers");
            let mut values = self.s.take();
            values.extend_from_slice(last);
            Rows { values, width: self.shape(pass.net).outputs() }
        }

        #[inline(always)]
        fn release(&mut self, batch: Rows) {
            self.s.give(batch.values);
        }

        #[inline(always)]
        fn discard(&mut self, pass: Pass) {
            self.s.passes[pass.net as usize].push(pass.layers);
        }

        #[inline(always)]
        fn backward_params(&mut self, net: Net, pass: Pass, grad: Rows) {
            let mut grad = grad.values;
            self.back(net, &pass, &mut grad, Need::Params);
            self.s.give(grad);
            self.s.passes[net as usize].push(pass.layers);
        }

        #[inline(always)]
        fn backward_input(&mut self, net: Net, pass: Pass, grad: Rows) -> Rows {
            let mut grad = grad.values;
            self.back(net, &pass, &mut grad, Need::Input);
            self.s.passes[net as usize].push(pass.layers);
            Rows { values: grad, width: self.shape(net).inputs() }
        }

        #[inline(always)]
        fn adam(&mut self, net: Net) {
            match net {
                Net::Generator => {
                    let [p, m, v] = &mut self.w.g;
                    adam_parts(self.plan.loops, p, m, v, &self.s.g_grads, self.plan.g_step);
                }
                Net::Discriminator => {
                    let step = self.plan.d_updates[self.d_update];
                    self.d_update += 1;
                    let [p, m, v] = &mut self.w.d;
                    let Some((raw, u)) = &mut self.w.d_spectral else {
                        adam_parts(self.plan.loops, p, m, v, &self.s.d_grads, step);
                        return;
                    };
                    // Adam trains the weights before normalisation; the network is then
                    // normalised by the kept u.
                    let (shape, s) = (self.plan.d, &mut *self.s);
                    spectral::host_chain(shape, p, u, &s.estimates, &mut s.d_grads);
                    adam_parts(self.plan.loops, raw, m, v, &s.d_grads, step);
                    spectral::host_refresh(shape, raw, u, &mut s.estimates);
                    spectral::host_apply(shape, raw, &s.estimates, p);
                }
            }
        }

        #[inline(always)]
        fn pack(&mut self, points: Rows) -> Rows {
            let pack = self.plan.pack;
            if pack == 1 {
                return points;
            }
            let mut out = self.s.take();
            packed(&points.values, points.n(), pack, &mut out);
            self.s.give(points.values);
            Rows { values: out, width: POINT_DIM as usize * pack }
        }

        #[inline(always)]
        fn unpack(&mut self, grad: Rows) -> Rows {
            let pack = self.plan.pack;
            if pack == 1 {
                return grad;
            }
            let mut out = self.s.take();
            unpack(&grad.values, grad.n() * pack, pack, &mut out);
            self.s.give(grad.values);
            Rows { values: out, width: POINT_DIM as usize }
        }

        #[inline(always)]
        fn loss_gradient(&mut self, term: Term, logits: &Rows) -> Rows {
            let mut values = self.s.take();
            loss::host_gradient(self.plan.rules.loss, term, &logits.values, &mut values);
            Rows { values, width: 1 }
        }

        #[inline(always)]
        fn join(&mut self, first: Rows, second: Rows) -> Rows {
            let (a, b) = (first.n(), second.n());
            let mut values = self.s.take();
            for (x, y) in first.values.chunks_exact(a).zip(second.values.chunks_exact(b)) {
                values.extend_from_slice(x);
                values.extend_from_slice(y);
            }
            let width = first.width;
            self.s.give(first.values);
            self.s.give(second.values);
            Rows { values, width }
        }

        #[inline(always)]
        fn split(&mut self, logits: Rows) -> (Rows, Rows) {
            let half = logits.values.len() / 2;
            let (mut first, mut second) = (self.s.take(), self.s.take());
            first.extend_from_slice(&logits.values[..half]);
            second.extend_from_slice(&logits.values[half..]);
            self.s.give(logits.values);
            (Rows { values: first, width: 1 }, Rows { values: second, width: 1 })
        }

        #[inline(always)]
        fn relative(&mut self, a: &Rows, b: &Rows) -> Rows {
            let n = b.values.len();
            let mut values = self.s.take();
            values.extend(a.values.iter().enumerate().map(|(j, &z)| z - b.values[j % n]));
            Rows { values, width: 1 }
        }
    }

    /// `points` (feature-major `[2][n]`) as a discriminator of `pack` reads them: each `pack`
    /// consecutive points one input, feature-major `[2 · pack][n / pack]`, pack member `m`'s
    /// coordinate `c` at feature `2m + c` (the point-major order), into `out`.
    #[inline(always)]
    fn packed(points: &[f32], n: usize, pack: usize, out: &mut Vec<f32>) {
        let judged = n / pack;
        out.clear();
        out.resize(POINT_DIM as usize * n, 0.0);
        for (c, row) in points.chunks_exact(n).enumerate() {
            for (j, group) in row.chunks_exact(pack).enumerate() {
                for (m, &value) in group.iter().enumerate() {
                    out[(m * POINT_DIM as usize + c) * judged + j] = value;
                }
            }
        }
    }

    /// [`packed`]'s inverse: a gradient over packs (`[2 · pack][n / pack]`) as one over the
    /// `n` points (`[2][n]`), into `out`.
    #[inline(always)]
    fn unpack(grad: &[f32], n: usize, pack: usize, out: &mut Vec<f32>) {
        let judged = n / pack;
        out.clear();
        out.resize(POINT_DIM as usize * n, 0.0);
        for (c, row) in out.chunks_exact_mut(n).enumerate() {
            for (j, group) in row.chunks_exact_mut(pack).enumerate() {
                for (m, value) in group.iter_mut().enumerate() {
                    *value = grad[(m * POINT_DIM as usize + c) * judged + j];
                }
            }
        }
    }

    /// Parameters an Adam update must have before it is split over the helper threads.
    const PARALLEL_ADAM: usize = 1 << 16;

    /// [`adam`] over one member's row, split over the helper threads when it is long; each
    /// parameter's update is the same wherever it runs.
    #[inline(always)]
    fn adam_parts(
        loops: Loops<'_>,
        params: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        grads: &[f32],
        c: AdamStep,
    ) {
        if loops.helpers <= 1 || params.len() < PARALLEL_ADAM {
            adam(params, m, v, grads, c);
            return;
        }
        let per_part = params.len().div_ceil(loops.helpers);
        type Share<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32], &'a [f32]);
        let shares: Vec<Mutex<Share>> = params
            .chunks_mut(per_part)
            .zip(m.chunks_mut(per_part))
            .zip(v.chunks_mut(per_part))
            .zip(grads.chunks(per_part))
            .map(|(((p, m), v), g)| Mutex::new((p, m, v, g)))
            .collect();
        loops.pool.run(shares.len(), &|i| {
            let mut share = shares[i].lock().unwrap_or_else(|e| e.into_inner());
            let (p, m, v, g) = &mut *share;
            adam_in(loops.path, p, m, v, g, c);
        });
    }

    crate::host::dispatched! {
        /// [`adam`] compiled for the CPU, for a part on another thread.
        fn adam_in(params: &mut [f32], m: &mut [f32], v: &mut [f32], grads: &[f32], c: AdamStep) {
            adam(params, m, v, grads, c)
        }
    }

    /// Keras' Adam on one member's row, [`AdamStep::update`] on each parameter.
    #[inline(always)]
    fn adam(params: &mut [f32], m: &mut [f32], v: &mut [f32], grads: &[f32], c: AdamStep) {
        let n = params.len();
        let (m, v, grads) = (&mut m[..n], &mut v[..n], &grads[..n]);
        for i in 0..n {
            c.update(&mut params[i], &mut m[i], &mut v[i], grads[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Loss};
    use crate::engine::initial_state;
    use crate::host::HostNetwork;
    use crate::rng::Keys;

    fn engine(cfg: &ModelConfig, seeds: &[u64]) -> NativeEngine {
        let keys = Keys::new(seeds, Device::Cpu);
        let mut e = NativeEngine::new(cfg, Rules::tutorial(), seeds.len() as i64, 128).unwrap();
        for net in Net::BOTH {
            e.import(net, &initial_state(cfg, net, &keys)).unwrap();
        }
        e
    }

    fn batches(k: i64, seed: u64) -> [Tensor; 3] {
        [
            crate::rng::test_normal(seed, &[k, 64, 2]),
            crate::rng::test_normal(seed + 1, &[k, 64, 5]),
            crate::rng::test_normal(seed + 2, &[k, 128, 5]),
        ]
    }

    fn step(e: &mut NativeEngine, b: &[Tensor; 3]) -> StepLosses {
        e.step(&Batches { real: &b[0], latent_half: &b[1], latent_full: &b[2], penalty: None })
    }

    fn same(a: &NetState, b: &NetState) -> bool {
        a.params.equal(&b.params) && a.m.equal(&b.m) && a.v.equal(&b.v) && a.steps == b.steps
    }

    /// A member of K on any number of threads steps exactly as it does alone.
    #[test]
    fn a_member_steps_bit_for_bit_as_it_does_alone_on_any_thread_count() {
        let cfg = ModelConfig::default();
        let seeds = [3u64, 9, 27, 81, 243];
        for threads in [1, 2, 3] {
            let mut all = engine(&cfg, &seeds);
            all.set_threads(threads).unwrap();
            for i in 0..3 {
                let _ = step(&mut all, &batches(5, 10 * i));
            }
            for (k, &seed) in seeds.iter().enumerate() {
                let mut alone = engine(&cfg, &[seed]);
                for i in 0..3 {
                    let row = batches(5, 10 * i).map(|t| t.narrow(0, k as i64, 1));
                    let _ = step(&mut alone, &row);
                }
                for net in Net::BOTH {
                    let member = |s: NetState| s.member(k as i64);
                    assert!(
                        same(&alone.export(net), &member(all.export(net))),
                        "{threads} threads, seed {seed}"
                    );
                }
            }
        }
    }

    /// With a penalty that draws its points, each member reads its own draws (and, under
    /// spectral normalisation, keeps its own u): a member of K steps exactly as it does alone,
    /// on one thread and on two.
    #[test]
    fn a_penalised_member_steps_bit_for_bit_as_it_does_alone() {
        use crate::penalty::{Penalty, Weighted};
        let cfg = ModelConfig { activation: Activation::Tanh, ..ModelConfig::default() };
        let seeds = [4u64, 8, 15];
        for (penalty, spectral_norm) in [(Penalty::WganGp, false), (Penalty::Dragan, true)] {
            let penalty = Some(Weighted { penalty, weight: 3.0 });
            let rules = Rules { penalty, spectral_norm, ..Rules::tutorial() };
            let build = |seeds: &[u64]| {
                let keys = Keys::new(seeds, Device::Cpu);
                let mut e = NativeEngine::new(&cfg, rules, seeds.len() as i64, 128).unwrap();
                for net in Net::BOTH {
                    e.import(net, &initial_state(&cfg, net, &keys)).unwrap();
                }
                e
            };
            let draws = |k: i64, i: u64| crate::rng::test_normal(70 + i, &[k, 64, 3]).abs().clamp(0.0, 1.0);
            let run = |e: &mut NativeEngine, pick: &dyn Fn(&Tensor) -> Tensor| {
                for i in 0..3 {
                    let (b, d) = (batches(3, 10 * i).map(|t| pick(&t)), pick(&draws(3, i)));
                    let _ = e.step(&Batches {
                        real: &b[0],
                        latent_half: &b[1],
                        latent_full: &b[2],
                        penalty: Some(&d),
                    });
                }
            };
            for threads in [1, 2] {
                let mut all = build(&seeds);
                all.set_threads(threads).unwrap();
                run(&mut all, &|t| t.shallow_clone());
                for (k, &seed) in seeds.iter().enumerate() {
                    let mut alone = build(&[seed]);
                    run(&mut alone, &|t| t.narrow(0, k as i64, 1));
                    let (mine, theirs) =
                        (alone.export(Net::Discriminator), all.export(Net::Discriminator).member(k as i64));
                    assert!(same(&mine, &theirs), "{penalty:?}, {threads} threads, seed {seed}");
                    if let (Some(a), Some(b)) = (&mine.spectral, &theirs.spectral) {
                        assert!(a.raw.equal(&b.raw) && a.u.equal(&b.u), "{penalty:?}: spectral state");
                    }
                }
            }
        }
    }

    /// A wide run steps exactly alike on every copy of the loops this CPU runs (portable,
    /// AVX2, AVX-512) and on any number of helper threads: its large layers (64 × 72 × 64
    /// points and more) are cut by outputs into parts that need not divide evenly, odd widths
    /// leave every tile an edge, and 200 iterations give rounding room to show.
    #[test]
    fn a_wide_run_steps_bit_for_bit_on_every_copy_of_the_loops_and_thread_count() {
        let cfg = ModelConfig {
            generator_hidden: vec![72, 67],
            discriminator_hidden: vec![69, 72],
            activation: Activation::Elu,
            ..ModelConfig::default()
        };
        let run = |path: Path, threads: usize, iterations: u64| {
            let mut e = engine(&cfg, &[17]);
            e.set_threads(threads).unwrap();
            // As many helpers as asked, whatever this machine's cores.
            (e.path, e.helpers, e.pool) = (path, threads, Pool::new(threads));
            for i in 0..iterations {
                let _ = step(&mut e, &batches(1, 10 * i));
            }
            Net::BOTH.map(|net| e.export(net))
        };
        let paths = Path::available();
        let reference = run(Path::Portable, 1, 200);
        for &path in &paths[1..] {
            for (a, b) in reference.iter().zip(&run(path, 1, 200)) {
                assert!(same(a, b), "{} against portable", path.name());
            }
        }
        let one = run(Path::best(), 1, 3);
        for threads in [2, 3] {
            for (a, b) in one.iter().zip(&run(Path::best(), threads, 3)) {
                assert!(same(a, b), "{threads} threads");
            }
        }
    }

    /// Every copy of the loops gives the same bits at the tutorial's widths and a deeper
    /// generator, with the activations and outputs beside the products.
    #[test]
    fn every_compiled_copy_gives_the_same_bits() {
        let cfg = ModelConfig {
            generator_hidden: vec![15, 9],
            activation: Activation::Elu,
            generator_output: Activation::Tanh,
            ..ModelConfig::default()
        };
        let run = |path: Path| {
            let mut e = engine(&cfg, &[11]);
            e.path = path;
            for i in 0..5 {
                let _ = step(&mut e, &batches(1, 100 + i));
            }
            Net::BOTH.map(|net| e.export(net))
        };
        let reference = run(Path::Portable);
        for path in Path::available() {
            for (net, (a, b)) in Net::BOTH.iter().zip(reference.iter().zip(&run(path))) {
                assert!(same(a, b), "{}: {}", path.name(), net.name());
            }
        }
    }

    #[test]
    fn forward_agrees_with_the_fused_networks_and_a_host_network() {
        let cfg = ModelConfig { generator_hidden: vec![7, 4], ..ModelConfig::default() };
        let e = engine(&cfg, &[1, 2]);
        let xs = crate::rng::test_normal(5, &[2, 33, 5]);
        let mine = e.forward(Net::Generator, &xs);
        let theirs = crate::model::Generator::new(&cfg, e.export(Net::Generator).params).generate(&xs);
        let diff = (&mine - &theirs).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
        let one = e.forward_member(1, Net::Generator, &xs.narrow(0, 1, 1));
        assert!(one.equal(&mine.narrow(0, 1, 1)));
        let row = e.export(Net::Generator).params.narrow(0, 1, 1);
        let alone = HostNetwork::new(&cfg.generator_layers(), &row).unwrap();
        assert!(alone.forward(&xs.narrow(0, 1, 1)).equal(&one));
        assert!(HostNetwork::new(&cfg.discriminator_layers(), &row).is_err());
    }

    /// The generator's update passes through the discriminator without moving it: with the
    /// discriminator's step size 0, its own updates leave its weights as they were, so after a
    /// whole iteration they are bit for bit those before it, while the generator's moved.
    #[test]
    fn a_generator_step_leaves_the_discriminator_bitwise_unchanged() {
        use crate::penalty::{Penalty, Weighted};
        let cases = [
            (Loss::Bce, Penalty::None),
            (Loss::Relativistic, Penalty::None),
            (Loss::Wasserstein, Penalty::None),
            (Loss::Bce, Penalty::R1),
            (Loss::Hinge, Penalty::R2),
            (Loss::Wasserstein, Penalty::WganGp),
            (Loss::Bce, Penalty::Dragan),
        ];
        for (loss, penalty) in cases {
            let cfg = ModelConfig::default();
            let keys = Keys::new(&[5, 6], Device::Cpu);
            let penalty = (penalty != Penalty::None).then_some(Weighted { penalty, weight: 10.0 });
            let rules = Rules { loss, penalty, ..Rules::tutorial() };
            let mut e = NativeEngine::new(&cfg, rules, 2, 128).unwrap();
            for net in Net::BOTH {
                e.import(net, &initial_state(&cfg, net, &keys)).unwrap();
            }
            e.set_learning_rates(1e-3, 0.0);
            let (d_before, g_before) = (e.export(Net::Discriminator), e.export(Net::Generator));
            let b = batches(2, 40);
            let draws = crate::rng::test_normal(44, &[2, 64, 3]).abs().clamp(0.0, 1.0);
            let _ = e.step(&Batches {
                real: &b[0],
                latent_half: &b[1],
                latent_full: &b[2],
                penalty: penalty.map(|_| &draws),
            });
            let (d_after, g_after) = (e.export(Net::Discriminator), e.export(Net::Generator));
            assert!(d_after.params.equal(&d_before.params), "{loss}, {penalty:?}: the discriminator moved");
            assert_eq!(
                d_after.steps,
                rules.d_updates(),
                "{loss}: only the discriminator's own updates count"
            );
            assert!(!g_after.params.equal(&g_before.params), "{loss}: the generator did not move");
        }
    }
}
