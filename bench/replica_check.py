"""Checks that gan1d runs exactly the tutorial's algorithm, against an autograd replica.

The replica below is the algorithm written independently with PyTorch autograd and a
Keras-style Adam. It computes gan1d's counter-based random numbers itself (Philox4x32-10 in
Python integers, then the same float32 steps), so it sees the same initial weights and the
same batches.

It compares single iterations, never a long trajectory: a GAN amplifies float rounding, and
libtorch rounds differently with each CPU kernel set (AVX-512, AVX2, scalar), so two correct
implementations drift apart over hundreds of iterations. One iteration from the same state
agrees to float32 rounding on every kernel set; a changed detail of the algorithm (a label, an
update order, a gradient, Adam's ε or its place) does not.

    python bench/replica_check.py --seed 5 --first RUN_AFTER_1 --pair RUN_K RUN_K_PLUS_1 ...

--first is a checkpoint folder after gan1d's first iteration: the replica initialises itself
from the seed and takes that iteration. Each --pair is two checkpoint folders of one run, k and
k + 1 iterations in: the replica loads the first, takes iteration k, and compares with the second.
bench/replica_check.sh makes these folders. Prints one JSON line per comparison; exits 1 when
any comparison exceeds the allowance.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-7
LATENT, HALF, BATCH = 5, 64, 128


# gan1d's draws: the tags of src/rng.rs.
INIT_GENERATOR, INIT_DISCRIMINATOR, REAL, LATENT_HALF, LATENT_FULL = 1, 2, 3, 4, 5
WORD = (1 << 32) - 1
UNIT = 1.0 / (1 << 24)


def philox(key, counter):
    """Philox4x32-10 of a 4-word counter under a 2-word key (Random123's definition)."""
    k0, k1 = key
    c0, c1, c2, c3 = counter
    for round_ in range(10):
        if round_:
            k0, k1 = (k0 + 0x9E3779B9) & WORD, (k1 + 0xBB67AE85) & WORD
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & WORD, (p0 >> 32) ^ c3 ^ k1, p0 & WORD
    return c0, c1, c2, c3


def numbers(seed, tag, counter, n):
    """gan1d's draw `tag` at `counter`: the top 24 bits of n words, as float32 integers."""
    key = (seed & WORD, seed >> 32)
    words = []
    for block in range((n + 3) // 4):
        words += philox(key, (counter & WORD, counter >> 32, block, tag))
    return torch.tensor([w >> 8 for w in words[:n]], dtype=torch.float32)


def uniform(draw, low, high):
    return (draw * UNIT) * (high - low) + low


def normal(draw):
    """Box-Muller: numbers i and h + i (h half the count) give normals i and h + i."""
    half = draw.numel() // 2
    radius = ((draw[:half] + 1.0) * UNIT).log() * -2.0
    radius = radius.sqrt()
    angle = draw[half:] * (UNIT * 2 * math.pi)
    return torch.cat([angle.cos() * radius, angle.sin() * radius])


class Mlp:
    """Flat parameters with (weight, bias) views, initialised from the run's stream."""

    def __init__(self, widths, seed, tag):
        self.shapes = list(zip(widths[:-1], widths[1:]))
        total = sum(o * i + o for i, o in self.shapes)
        draw = numbers(seed, tag, 0, total)
        self.flat = torch.zeros(total)
        offset = 0
        for index, (fan_in, fan_out) in enumerate(self.shapes):
            is_output = index == len(self.shapes) - 1
            limit = math.sqrt(6 / (fan_in + fan_out)) if is_output else math.sqrt(6 / fan_in)
            weights = fan_out * fan_in
            self.flat[offset:offset + weights] = uniform(draw[offset:offset + weights], -limit, limit)
            offset += weights + fan_out
        self.flat.requires_grad_(True)
        self.m, self.v, self.steps = torch.zeros(total), torch.zeros(total), 0

    def __call__(self, xs, flat=None):
        flat = self.flat if flat is None else flat
        offset = 0
        for index, (fan_in, fan_out) in enumerate(self.shapes):
            w = flat[offset:offset + fan_out * fan_in].view(fan_out, fan_in)
            offset += fan_out * fan_in
            b = flat[offset:offset + fan_out]
            offset += fan_out
            xs = xs @ w.t() + b
            if index < len(self.shapes) - 1:
                xs = torch.relu(xs)
        return xs

    def adam_step(self):
        """Keras' Adam: ε added to √v before bias correction."""
        self.steps += 1
        g = self.flat.grad
        with torch.no_grad():
            self.m += (g - self.m) * (1 - BETA1)
            self.v += (g * g - self.v) * (1 - BETA2)
            alpha = LR * math.sqrt(1 - BETA2 ** self.steps) / (1 - BETA1 ** self.steps)
            self.flat -= (self.m * alpha) / (self.v.sqrt() + EPS)
        self.flat.grad = None

    def names(self):
        """gan1d's variable names, in the flat layout's order."""
        names = []
        for index in range(len(self.shapes)):
            layer = "out" if index == len(self.shapes) - 1 else ("hidden" if index == 0 else f"hidden{index + 1}")
            names += [f"{layer}.weight", f"{layer}.bias"]
        return names


def iterate(generator, discriminator, seed, iteration):
    """The tutorial's iteration, with gan1d's draws."""
    xs = uniform(numbers(seed, REAL, iteration, HALF), -0.5, 0.5)
    real = torch.stack([xs, xs * xs], 1)
    latent_half = normal(numbers(seed, LATENT_HALF, iteration, HALF * LATENT)).view(HALF, LATENT)
    latent_full = normal(numbers(seed, LATENT_FULL, iteration, BATCH * LATENT)).view(BATCH, LATENT)
    with torch.no_grad():
        fake = generator(latent_half)
    for points, label in ((real, 1.0), (fake, 0.0)):
        logits = discriminator(points)
        F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label)).backward()
        discriminator.adam_step()
    # The composite update: through D (its parameters detached: not trainable) into G.
    logits = discriminator(generator(latent_full), flat=discriminator.flat.detach())
    F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    generator.adam_step()


def read_checkpoint(folder):
    """The state gan1d saved in `folder`: (manifest, {net: (flat params, m, v, steps)})."""
    with open(os.path.join(folder, "config.json")) as f:
        manifest = json.load(f)

    def tensors(part):
        module = torch.jit.load(os.path.join(folder, manifest["files"][part]["name"]))
        # libtorch's archive stores `hidden.weight` as `hidden|weight`.
        return {name.replace("|", "."): t.detach() for name, t in module.named_parameters()}

    optimizer = tensors("optimizer")
    state = {}
    for net in ("generator", "discriminator"):
        state[net] = (tensors(net), optimizer[f"{net}.m"], optimizer[f"{net}.v"], manifest[f"{net}_adam_steps"])
    return manifest, state


def load_into(mlp, saved):
    variables, m, v, steps = saved
    with torch.no_grad():
        mlp.flat.copy_(torch.cat([variables[name].reshape(-1) for name in mlp.names()]))
    mlp.m, mlp.v, mlp.steps = m.clone(), v.clone(), steps


def disagreement(before, replica, gan1d):
    """How far one iteration's results are apart, as a multiple of float32 rounding (at most 1
    passes): each parameter's update may differ by 1 % of itself plus 4 ulps of the parameter,
    each moment by 1e-4 of the tensor's largest element. The same allowance as gan1d's own
    engine test (tests/engines.rs)."""
    (p0, _, _), (pr, mr, vr), (pg, mg, vg) = [[t.double() for t in s] for s in (before, replica, gan1d)]
    dr, dg = pr - p0, pg - p0
    ulp = p0.abs().clamp_min(1e-3) * torch.finfo(torch.float32).eps
    ratios = [((dr - dg).abs() / (dr.abs() * 1e-2 + ulp * 4)).max().item()]
    for a, b in ((mr, mg), (vr, vg)):
        ratios.append(((a - b).abs().max() / (1e-4 * b.abs().max() + 1e-30)).item())
    return max(ratios)


def flat_state(mlp):
    return (mlp.flat.detach().clone(), mlp.m.clone(), mlp.v.clone())


def saved_flat(mlp, saved):
    variables, m, v, _ = saved
    return (torch.cat([variables[name].reshape(-1) for name in mlp.names()]), m, v)


def compare(seed, start, after):
    """Takes the iteration after `start` (None: gan1d's initialisation) and compares it with
    the checkpoint `after`. Returns the JSON-ready result."""
    discriminator = Mlp([2, 25, 1], seed, INIT_DISCRIMINATOR)
    generator = Mlp([LATENT, 15, 2], seed, INIT_GENERATOR)
    iteration = 0
    if start is not None:
        manifest, state = read_checkpoint(start)
        iteration = manifest["iteration"]
        load_into(generator, state["generator"])
        load_into(discriminator, state["discriminator"])
    before = {"generator": flat_state(generator), "discriminator": flat_state(discriminator)}
    iterate(generator, discriminator, seed, iteration)
    manifest, state = read_checkpoint(after)
    if manifest["iteration"] != iteration + 1:
        sys.exit(f"{after} holds iteration {manifest['iteration']}, expected {iteration + 1}")
    ratio = max(
        disagreement(before[net], flat_state(mlp), saved_flat(mlp, state[net]))
        for net, mlp in (("generator", generator), ("discriminator", discriminator))
    )
    return {"seed": seed, "iteration": iteration, "disagreement": ratio, "identical_algorithm": ratio <= 1.0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--first", help="checkpoint folder after gan1d's first iteration")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("K", "K_PLUS_1"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    if args.first:
        results.append(compare(args.seed, None, args.first))
    results += [compare(args.seed, start, after) for start, after in args.pair]
    for result in results:
        print(json.dumps(result))
    sys.exit(0 if results and all(r["identical_algorithm"] for r in results) else 1)


if __name__ == "__main__":
    main()
