#!/usr/bin/env bash
# Checks `gan1d export` in Python, as a PyTorch or onnxruntime user loads each format: for the
# shipped generator and three short runs that between them use every activation, a tanh output
# (scaled back onto the data's axes), a uniform latent space and a plane target, each export
# must map the latent columns of `gan1d sample --latent` to its x,y within 1e-6
# (bench/export_check.py). Needs target/release/gan1d and a Python with torch, safetensors and
# onnxruntime (PYTHON, default `python`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
BIN=target/release/gan1d
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

train() {
  local name=$1
  shift
  "$BIN" train --seed 3 --epochs 300 --eval-every 300 --out "$out/$name" --quiet "$@" >/dev/null 2>"$out/log" \
    || { cat "$out/log" >&2; exit 1; }
}
train leaky --activation leaky-relu:0.2 --g-output tanh --latent uniform --g-hidden 12,9
train elu --activation elu --target ring --g-output tanh --latent-dim 3
train tanh --activation tanh --target sine --g-hidden 8,8,8

status=0
for run in models "$out/leaky" "$out/elu" "$out/tanh"; do
  name=$(basename "$run")
  "$BIN" sample --checkpoint "$run" --latent -n 2000 --seed 17 --out "$out/$name.csv"
  for file in "$out/$name.safetensors" "$out/$name.pt" "$out/$name.onnx"; do
    "$BIN" export --checkpoint "$run" --out "$file" 2>/dev/null
  done
  if ! "$PYTHON" -W ignore bench/export_check.py "$out/$name.csv" "$out/$name.safetensors" "$out/$name.pt" \
      "$out/$name.onnx" | sed "s/^/export check ($name): /"; then
    status=1
  fi
done
exit $status
