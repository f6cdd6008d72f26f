"""Checks that gan1d runs exactly the tutorial's algorithm, against an autograd replica.

The replica below is the same algorithm written with PyTorch autograd and a Keras-style Adam,
drawing random numbers in exactly gan1d's order (same seeds, same shapes, same calls), so the
two runs see the same initial weights and the same batches. gan1d reseeds before every
iteration, so its evaluations (which also draw) need no mirror here. After a short run their
generators must agree to float32 rounding; any difference in the algorithm (a label, an
update order, a gradient, Adam's ε) shows up as a large gap.

    gan1d train --seed 5 --epochs 200 --eval-every 100 --device cpu --out /tmp/r -q
    gan1d sample --checkpoint /tmp/r -n 1000 --seed 0 --out /tmp/r/s.csv
    python bench/replica_check.py --seed 5 --epochs 200 --csv /tmp/r/s.csv
"""

import argparse
import json
import math

import torch
import torch.nn.functional as F

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-7


class Mlp:
    """Flat parameters with (weight, bias) views, initialised in gan1d's order."""

    def __init__(self, widths):
        self.shapes = list(zip(widths[:-1], widths[1:]))
        total = sum(o * i + o for i, o in self.shapes)
        self.flat = torch.zeros(total)
        offset = 0
        for index, (fan_in, fan_out) in enumerate(self.shapes):
            is_output = index == len(self.shapes) - 1
            limit = math.sqrt(6 / (fan_in + fan_out)) if is_output else math.sqrt(6 / fan_in)
            self.flat[offset:offset + fan_out * fan_in].view(fan_out, fan_in).uniform_(-limit, limit)
            offset += fan_out * fan_in + fan_out
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


MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def iteration_seed(seed, iteration):
    """gan1d reseeds libtorch before every iteration from the run's seed and the iteration."""
    return splitmix64(seed ^ splitmix64(iteration))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--csv", required=True, help="gan1d sample -n 1000 --seed 0 output")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    discriminator = Mlp([2, 25, 1])
    generator = Mlp([5, 15, 2])
    half, batch = 64, 128
    real_buffer = torch.zeros(half, 2)
    latent_half, latent_full = torch.zeros(half, 5), torch.zeros(batch, 5)

    def d_update(points, label):
        logits = discriminator(points)
        F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label)).backward()
        discriminator.adam_step()

    for iteration in range(args.epochs):
        torch.manual_seed(iteration_seed(args.seed, iteration))
        real_buffer[:, 0:1].uniform_(-0.5, 0.5)
        real_buffer[:, 1:2] = real_buffer[:, 0:1] * real_buffer[:, 0:1]
        latent_half.normal_(0.0, 1.0)
        with torch.no_grad():
            fake = generator(latent_half)
        d_update(real_buffer, 1.0)
        d_update(fake, 0.0)
        latent_full.normal_(0.0, 1.0)
        logits = discriminator(generator(latent_full), flat=discriminator.flat.detach())
        F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
        generator.adam_step()

    torch.manual_seed(0)
    with torch.no_grad():
        replica = generator(torch.randn(1000, 5))
    rows = [line.split(",") for line in open(args.csv).read().split()[1:]]
    gan1d = torch.tensor([[float(x), float(y)] for x, y in rows])
    gap = (replica - gan1d).abs().max().item()
    spread = (replica - replica.mean(0)).abs().max().item()
    print(json.dumps({"seed": args.seed, "epochs": args.epochs, "max_abs_gap": gap,
                      "points_spread": spread, "identical_algorithm": gap < 1e-5 * spread}))


if __name__ == "__main__":
    main()
