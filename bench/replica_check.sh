#!/usr/bin/env bash
# Trains gan1d for 200 iterations on two seeds and checks each against its autograd replica
# (bench/replica_check.py): fails unless the generators agree to float32 rounding, i.e. unless
# gan1d still runs exactly the tutorial's algorithm. Needs target/release/gan1d and a Python
# with torch (PYTHON, default `python`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for seed in 5 11; do
  target/release/gan1d train --seed "$seed" --epochs 200 --eval-every 100 --device cpu --out "$out/run" --quiet >/dev/null 2>&1
  target/release/gan1d sample --checkpoint "$out/run" -n 1000 --seed 0 --out "$out/samples.csv"
  result=$("$PYTHON" -W ignore bench/replica_check.py --seed "$seed" --epochs 200 --csv "$out/samples.csv" 2>/dev/null)
  echo "replica check: $result"
  grep -q '"identical_algorithm": true' <<<"$result" || { echo "replica check failed for seed $seed" >&2; exit 1; }
done
