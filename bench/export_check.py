"""Loads a generator exported by `gan1d export` in each format, as the README shows a user
doing it, and checks each against `gan1d sample --latent`'s CSV: from the columns z1..zk, each
export must give the columns x,y within TOLERANCE.

usage: export_check.py SAMPLES.csv G.safetensors G.pt G.onnx
"""

import csv
import json
import sys

import numpy as np
import onnxruntime
import torch
from safetensors import safe_open
from safetensors.torch import load_file

TOLERANCE = 1e-6


def sequential(path):
    """The README's safetensors loader: an nn.Sequential and the scaling back onto the data."""
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "elu": torch.nn.ELU, "linear": torch.nn.Identity}
    modules = []
    for layer in json.loads(meta["layers"]):
        act = layer["activation"]
        modules += [torch.nn.Linear(layer["in"], layer["out"]),
                    torch.nn.LeakyReLU(layer["slope"]) if act == "leaky-relu" else activations[act]()]
    net = torch.nn.Sequential(*modules)
    net.load_state_dict(load_file(path))
    scale, shift = torch.tensor(json.loads(meta["scale"])), torch.tensor(json.loads(meta["shift"]))
    return lambda z: net(z) * scale + shift, meta


def main(samples, safetensors_path, torchscript_path, onnx_path):
    with open(samples) as f:
        rows = list(csv.reader(f))
    header, values = rows[0], np.array(rows[1:], dtype=np.float32)
    assert header[:2] == ["x", "y"] and all(h == f"z{i}" for i, h in enumerate(header[2:], 1)), header
    expected, z = values[:, :2], values[:, 2:]
    generator, meta = sequential(safetensors_path)
    assert int(meta["latent_dim"]) == z.shape[1], (meta["latent_dim"], z.shape)
    torchscript = torch.jit.load(torchscript_path)
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        results = {
            "safetensors": generator(torch.from_numpy(z)).numpy(),
            "torchscript": torchscript(torch.from_numpy(z)).numpy(),
            "onnx": session.run(["points"], {"z": z})[0],
        }
    failed = False
    for name, points in results.items():
        assert points.shape == expected.shape, (name, points.shape)
        error = float(np.abs(points.astype(np.float64) - expected).max())
        ok = error <= TOLERANCE
        failed |= not ok
        print(f"{name}: {len(z)} points, largest |difference| {error:.2e} ({'ok' if ok else 'FAILED'}, tolerance {TOLERANCE:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
