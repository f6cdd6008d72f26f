#!/usr/bin/env bash
# What following a run live costs it (src/live.rs). Two measures, the best of REPS each:
#   - one write of the live record: a short run writing it at every iteration
#     (GAN1D_LIVE_MS=0) against the same run writing it only at its start and end, the
#     difference divided by the iterations; the usual spacing, max(0.5 s, 50 × that cost),
#     then bounds the share of the run's time;
#   - a whole run at the usual spacing against one without (below the machine's noise when
#     the bound is small).
#
#   bench/live.sh            # REPS=3; BIN=target/release/gan1d
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/gan1d}
REPS=${REPS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
NEVER=100000000

seconds() { # seconds of one run of "$@", from gan1d's own line
  "$BIN" train --quiet --overwrite --out "$tmp/run" "$@" 2>&1 | grep -o 'in [0-9.]* s' | grep -o '[0-9.]*'
}
best() { # best of REPS runs; $1 is GAN1D_LIVE_MS
  local ms=$1 t b=999999; shift
  for _ in $(seq "$REPS"); do t=$(GAN1D_LIVE_MS=$ms seconds "$@"); b=$(python3 -c "print(min($b, $t))"); done
  echo "$b"
}

bench() { # name, short iterations, long iterations, flags
  local name=$1 short=$2 long=$3; shift 3
  local every never usual without
  every=$(best 0 --epochs "$short" --eval-every "$short" "$@")
  never=$(best $NEVER --epochs "$short" --eval-every "$short" "$@")
  usual=$(best 500 --epochs "$long" --eval-every "$long" "$@")
  without=$(best $NEVER --epochs "$long" --eval-every "$long" "$@")
  python3 - "$name" "$short" "$every" "$never" "$long" "$usual" "$without" <<'PY'
import sys
name, short, every, never, long_, usual, without = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:5]), int(sys.argv[5]), *map(float, sys.argv[6:8])
write = max(0.0, every - never) / short
bound = write / max(0.5, 50 * write)
print(f"| {name} | {write * 1e3:.2f} ms | {100 * bound:.2f} % | {long_} iterations: {without:.2f} s without, {usual:.2f} s with ({100 * (usual / without - 1):+.1f} %) |")
PY
}

echo "| run | one write | its share of the run at the usual spacing, at most | a whole run, with and without |"
echo "|---|---|---|---|"
bench "the tutorial's x²" 1000 10000
bench "ring, --recipe robust" 1000 20000 --target ring --recipe robust
bench "grid, networks of 512 × 3" 30 300 --target grid --g-hidden 512,512,512 --d-hidden 512,512,512
