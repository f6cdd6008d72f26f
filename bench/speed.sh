#!/usr/bin/env bash
# Speed of a full 10 000-iteration run: gan1d against the same algorithm in PyTorch eager
# mode, both on one CPU thread, measured side by side (alternating runs) so that a shared,
# noisy machine slows both alike. Prints one line per run and the ratio of the medians.
#
#   make bench                 # builds gan1d, then runs this with the project's Python
#   ROUNDS=5 bench/speed.sh    # more rounds
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-python}
BIN=target/release/gan1d
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
gan=(); torch=()
for round in $(seq "$ROUNDS"); do
  start=$(now)
  "$BIN" train --device cpu --threads 1 --seed "$round" --quiet --out "$out/run" >/dev/null 2>"$out/log"
  end=$(now)
  g=$(awk "BEGIN {print $end - $start}")
  start=$(now)
  "$PYTHON" -W ignore bench/pytorch_reference.py --seed "$round" --threads 1 >"$out/pt" 2>/dev/null
  end=$(now)
  p=$(awk "BEGIN {print $end - $start}")
  printf 'round %d  gan1d %6.2f s  pytorch-eager %6.2f s  (gan1d: %s)\n' "$round" "$g" "$p" \
    "$(grep -o '[0-9]* it/s' "$out/log")"
  gan+=("$g"); torch+=("$p")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mg=$(median "${gan[@]}"); mp=$(median "${torch[@]}")
printf 'median over %d rounds: gan1d %.2f s, pytorch-eager %.2f s, gan1d is %.1fx faster (whole processes, 10 000 iterations, 1 thread)\n' \
  "$ROUNDS" "$mg" "$mp" "$(awk "BEGIN {print $mp / $mg}")"
