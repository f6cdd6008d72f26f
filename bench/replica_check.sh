#!/usr/bin/env bash
# Checks gan1d against its autograd replica (bench/replica_check.py), one iteration at a time
# from states along real runs, so that no CPU kernel set's rounding can fail it: for seeds 5 and
# 11, the first iteration from the seed's initialisation, then single iterations from states
# 20, 100 and 400 iterations in. gan1d makes each state pair by training to k and resuming to
# k + 1 (resumption is exact). Needs target/release/gan1d and a Python with torch (PYTHON,
# default `python`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
BIN=target/release/gan1d
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Trains (or resumes) the run in $out/run to $1 iterations, then keeps a copy as $out/s$1.
advance() {
  if [ -e "$out/run/config.json" ]; then
    "$BIN" train --resume "$out/run" --epochs "$1" --device cpu --quiet >/dev/null 2>"$out/log"
  else
    "$BIN" train --seed "$seed" --epochs "$1" --eval-every 100 --device cpu --out "$out/run" --quiet \
      >/dev/null 2>"$out/log"
  fi || { cat "$out/log" >&2; exit 1; }
  cp -r "$out/run" "$out/s$1"
}

status=0
for seed in 5 11; do
  rm -rf "$out"/run "$out"/s*
  pairs=()
  advance 1
  for k in 20 100 400; do
    advance "$k"
    advance $((k + 1))
    pairs+=(--pair "$out/s$k" "$out/s$((k + 1))")
  done
  if ! "$PYTHON" -W ignore bench/replica_check.py --seed "$seed" --first "$out/s1" "${pairs[@]}" \
      | sed 's/^/replica check: /'; then
    echo "replica check failed for seed $seed: gan1d no longer runs the replica's algorithm" >&2
    status=1
  fi
done
exit $status
