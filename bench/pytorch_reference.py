"""The tutorial's GAN in plain PyTorch eager mode: the baseline gan1d is compared against.

Same algorithm as gan1d (SPEC §1): D 2→25→1 and G 5→15→2 with Keras' initialisers, BCE on
logits, one Adam for D and one for G only, 10 000 iterations of (64 real → D, 64 fake → D,
128 latent → G). It uses torch.optim.Adam, as a PyTorch user would, with Keras' ε = 1e-7.

Prints one JSON line: wall time of the training loop and the mean |y − x²| of 1 000 samples.

    python bench/pytorch_reference.py --seed 1 --threads 1
"""

import argparse
import json
import math
import time

import torch
from torch import nn


def dense(fan_in, fan_out, init):
    layer = nn.Linear(fan_in, fan_out)
    limit = math.sqrt(6 / fan_in) if init == "he" else math.sqrt(6 / (fan_in + fan_out))
    nn.init.uniform_(layer.weight, -limit, limit)
    nn.init.zeros_(layer.bias)
    return layer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    latent_dim, batch = 5, 128
    half = batch // 2

    discriminator = nn.Sequential(dense(2, 25, "he"), nn.ReLU(), dense(25, 1, "glorot"))
    generator = nn.Sequential(dense(latent_dim, 15, "he"), nn.ReLU(), dense(15, 2, "glorot"))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    g_opt = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    ones_half, zeros_half, ones_full = torch.ones(half, 1), torch.zeros(half, 1), torch.ones(batch, 1)

    def real_points(n):
        x = torch.rand(n, 1) - 0.5
        return torch.cat([x, x * x], dim=1)

    start = time.perf_counter()
    for _ in range(args.epochs):
        real = real_points(half)
        with torch.no_grad():
            fake = generator(torch.randn(half, latent_dim))
        for points, labels in ((real, ones_half), (fake, zeros_half)):
            d_opt.zero_grad()
            bce(discriminator(points), labels).backward()
            d_opt.step()
        g_opt.zero_grad()
        for p in discriminator.parameters():
            p.requires_grad_(False)
        bce(discriminator(generator(torch.randn(batch, latent_dim))), ones_full).backward()
        for p in discriminator.parameters():
            p.requires_grad_(True)
        g_opt.step()
    seconds = time.perf_counter() - start

    with torch.no_grad():
        points = generator(torch.randn(args.samples, latent_dim))
    residual = (points[:, 1] - points[:, 0] ** 2).abs().mean().item()
    print(json.dumps({"impl": "pytorch-eager", "seed": args.seed, "threads": args.threads,
                      "epochs": args.epochs, "train_seconds": round(seconds, 3),
                      "mean_residual": round(residual, 5)}))


if __name__ == "__main__":
    main()
