//! The algorithm of one iteration, written once: `d_steps` rounds of discriminator updates on
//! real points and on the generator's (gradient-free) fakes, one update on both for a paired
//! loss, then a generator update through a discriminator that stays unchanged, with packing
//! and pairing where the run asks for them. The engines differ in where numbers live, not in
//! what they do with them: each implements a small [`Backend`] (the native engine one member
//! on the host, the fused engine K members in tensors), and [`iteration`] runs the algorithm
//! over it. The autograd engine stays independent on purpose: it is the reference the others
//! are tested against.
//!
//! A backend's batches are feature- or point-major as it likes; the algorithm only hands them
//! from one operation to the next. Every operation takes its inputs by value, so a backend can
//! reuse their buffers.

use super::{Net, Rules};
use crate::loss::Term;
use crate::penalty::Penalty;

/// What an iteration needs of an engine: its draws, a network's passes forward and back, the
/// loss gradient and Adam, over batches of its own kind.
pub trait Backend {
    /// Points, logits or gradients for the members the backend trains.
    type Batch;
    /// A network's forward pass over a batch, with what its backward pass needs.
    type Pass;

    /// Round `round`'s real points, on the networks' axes.
    fn real(&mut self, round: usize) -> Self::Batch;
    /// Round `round`'s latent points for the discriminator's fakes.
    fn latent_half(&mut self, round: usize) -> Self::Batch;
    /// The latent points of the generator's update.
    fn latent_full(&mut self) -> Self::Batch;

    /// `net` over `input` (latent points for the generator, packs for the discriminator),
    /// keeping the pass.
    fn forward(&mut self, net: Net, input: Self::Batch) -> Self::Pass;
    /// The output of `pass`: the generator's points, or the discriminator's logits.
    fn output(&mut self, pass: &Self::Pass) -> Self::Batch;
    /// `net` over `input` without keeping the pass: its output.
    #[inline(always)]
    fn apply(&mut self, net: Net, input: Self::Batch) -> Self::Batch {
        let pass = self.forward(net, input);
        let output = self.output(&pass);
        self.discard(pass);
        output
    }
    /// Gives back a pass no backward needs.
    fn discard(&mut self, pass: Self::Pass);
    /// Gives back a batch no longer needed, so that a backend can reuse its buffer.
    fn release(&mut self, _batch: Self::Batch) {}
    /// Under spectral normalisation, one power-iteration step on the discriminator's weights,
    /// which its next update's passes use divided by the new estimate; otherwise nothing.
    fn power_iteration(&mut self);
    /// Round `round`'s uniform numbers for a penalty's points, three a point (`u`, then `r`
    /// for each coordinate), on the networks' axes: [`crate::penalty`]'s `mix` and `perturb`
    /// read them.
    fn penalty_draws(&mut self, round: usize) -> Self::Batch;
    /// A copy of `batch`.
    fn copy(&mut self, batch: &Self::Batch) -> Self::Batch;
    /// WGAN-GP's points between `real` and `fake` points: [`crate::penalty::mix`].
    fn mix(&mut self, real: &Self::Batch, fake: &Self::Batch, draws: Self::Batch) -> Self::Batch;
    /// DRAGAN's points near `real` points: [`crate::penalty::perturb`].
    fn perturb(&mut self, real: &Self::Batch, draws: Self::Batch) -> Self::Batch;
    /// Adds the run's penalty's gradient at `packs` to the discriminator's parameters'
    /// gradients of its last [`Backend::backward_params`]: the second-order pass.
    fn penalise(&mut self, packs: Self::Batch);

    /// Back-propagates `grad` (∂loss/∂output) through `pass`, keeping `net`'s parameters'
    /// gradients for [`Backend::adam`].
    fn backward_params(&mut self, net: Net, pass: Self::Pass, grad: Self::Batch);
    /// Back-propagates `grad` through `pass` to its input, leaving `net` and its gradients as
    /// they are: ∂loss/∂input.
    fn backward_input(&mut self, net: Net, pass: Self::Pass, grad: Self::Batch) -> Self::Batch;
    /// `net`'s next Adam update from the gradients of its last [`Backend::backward_params`].
    fn adam(&mut self, net: Net);

    /// Points as the discriminator judges them: each `pack` consecutive points one input.
    fn pack(&mut self, points: Self::Batch) -> Self::Batch;
    /// [`Backend::pack`]'s inverse, for a gradient over packs: one over the points.
    fn unpack(&mut self, grad: Self::Batch) -> Self::Batch;
    /// ∂(the mean of `term` of the loss over each member's logits)/∂logits.
    fn loss_gradient(&mut self, term: Term, logits: &Self::Batch) -> Self::Batch;

    /// Two batches of packs (or of logits) as one: `first`'s, then `second`'s, per member.
    fn join(&mut self, first: Self::Batch, second: Self::Batch) -> Self::Batch;
    /// [`Backend::join`]'s inverse for logits: each member's first half, and second half.
    fn split(&mut self, logits: Self::Batch) -> (Self::Batch, Self::Batch);
    /// Relative logits `a[j] − b[j mod n]`, with `n` the number of `b`'s logits per member:
    /// logit `j` against the `j`-th of `b`, cycling through `b` when `a` has more.
    fn relative(&mut self, a: &Self::Batch, b: &Self::Batch) -> Self::Batch;
}

/// The logits of an iteration that its losses and accuracies are computed from: the last
/// round's on real and on fake points (relative ones for a paired loss), and the generator
/// update's.
#[derive(Debug)]
pub struct Logits<B> {
    pub d_real: B,
    pub d_fake: B,
    pub g: B,
}

/// One discriminator update on `points` (points, not yet packed), all in `term` of the loss,
/// with the penalty at `penalised` (points) if given; returns its logits.
#[inline(always)]
pub fn update_discriminator<B: Backend>(
    b: &mut B,
    points: B::Batch,
    term: Term,
    penalised: Option<B::Batch>,
) -> B::Batch {
    b.power_iteration();
    let packs = b.pack(points);
    let pass = b.forward(Net::Discriminator, packs);
    let logits = b.output(&pass);
    let grad = b.loss_gradient(term, &logits);
    b.backward_params(Net::Discriminator, pass, grad);
    penalise(b, penalised);
    b.adam(Net::Discriminator);
    logits
}

/// Adds the penalty at `points` (if any) to the discriminator's gradients.
#[inline(always)]
fn penalise<B: Backend>(b: &mut B, points: Option<B::Batch>) {
    if let Some(points) = points {
        let packs = b.pack(points);
        b.penalise(packs);
    }
}

/// The points round `round`'s penalty is taken at, from its `real` points and `fake`s.
#[inline(always)]
fn penalty_points<B: Backend>(
    b: &mut B,
    penalty: Penalty,
    round: usize,
    real: &B::Batch,
    fake: &B::Batch,
) -> B::Batch {
    match penalty {
        Penalty::R1 | Penalty::None => b.copy(real),
        Penalty::R2 => b.copy(fake),
        Penalty::WganGp => {
            let draws = b.penalty_draws(round);
            b.mix(real, fake, draws)
        }
        Penalty::Dragan => {
            let draws = b.penalty_draws(round);
            b.perturb(real, draws)
        }
    }
}

/// One discriminator update by a paired loss: real pack `i` against fake pack `i`, both
/// batches in one pass, with the penalty at `penalised` if given. Returns the relative logits
/// `z_real − z_fake` and `z_fake − z_real`.
#[inline(always)]
fn update_discriminator_paired<B: Backend>(
    b: &mut B,
    real: B::Batch,
    fake: B::Batch,
    penalised: Option<B::Batch>,
) -> (B::Batch, B::Batch) {
    b.power_iteration();
    let (real, fake) = (b.pack(real), b.pack(fake));
    let both = b.join(real, fake);
    let pass = b.forward(Net::Discriminator, both);
    let logits = b.output(&pass);
    let (z_real, z_fake) = b.split(logits);
    let (real_ahead, fake_ahead) = (b.relative(&z_real, &z_fake), b.relative(&z_fake, &z_real));
    b.release(z_real);
    b.release(z_fake);
    let (real_grad, fake_grad) =
        (b.loss_gradient(Term::Real, &real_ahead), b.loss_gradient(Term::Fake, &fake_ahead));
    let grad = b.join(real_grad, fake_grad);
    b.backward_params(Net::Discriminator, pass, grad);
    penalise(b, penalised);
    b.adam(Net::Discriminator);
    (real_ahead, fake_ahead)
}

/// The tutorial's iteration, by `rules`: `d_steps` rounds of the generator's fakes (no
/// gradient), a discriminator update on the real points and another on the fakes (one on both
/// for a paired loss), then a generator update through the discriminator, by the generator's
/// term of the loss, which moves the generator only. A paired loss measures the generator's
/// fake pack `j` against the last round's real pack `j` (cycling), scored by the updated
/// discriminator.
#[inline(always)]
pub fn iteration<B: Backend>(b: &mut B, rules: &Rules) -> Logits<B::Batch> {
    let paired = rules.loss.is_paired();
    let mut last = None;
    for round in 0..rules.d_steps {
        let real = b.real(round);
        let latent = b.latent_half(round);
        let fakes = b.apply(Net::Generator, latent);
        let penalty = rules.penalty.map(|rule| rule.penalty);
        let penalised = penalty.map(|p| (p.term(), penalty_points(b, p, round, &real, &fakes)));
        let logits = if paired {
            update_discriminator_paired(b, real, fakes, penalised.map(|(_, points)| points))
        } else {
            let (at_real, at_fake) = match penalised {
                Some((Term::Real, points)) => (Some(points), None),
                Some((_, points)) => (None, Some(points)),
                None => (None, None),
            };
            let d_real = update_discriminator(b, real, Term::Real, at_real);
            (d_real, update_discriminator(b, fakes, Term::Fake, at_fake))
        };
        // Only the last round's logits are reported.
        if let Some((d_real, d_fake)) = last.replace(logits) {
            b.release(d_real);
            b.release(d_fake);
        }
    }
    let (d_real, d_fake) = last.expect("at least one discriminator round");
    let anchor = paired.then(|| {
        let real = b.real(rules.d_steps - 1);
        let packs = b.pack(real);
        b.apply(Net::Discriminator, packs)
    });

    let latent = b.latent_full();
    let g_pass = b.forward(Net::Generator, latent);
    let points = b.output(&g_pass);
    let packs = b.pack(points);
    let d_pass = b.forward(Net::Discriminator, packs);
    let mut g = b.output(&d_pass);
    if let Some(anchor) = anchor {
        let relative = b.relative(&g, &anchor);
        let absolute = std::mem::replace(&mut g, relative);
        b.release(absolute);
        b.release(anchor);
    }
    let grad = b.loss_gradient(Term::Generator, &g);
    let pack_grad = b.backward_input(Net::Discriminator, d_pass, grad);
    let point_grad = b.unpack(pack_grad);
    b.backward_params(Net::Generator, g_pass, point_grad);
    b.adam(Net::Generator);
    Logits { d_real, d_fake, g }
}
