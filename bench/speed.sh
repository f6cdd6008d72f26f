#!/usr/bin/env bash
# Speed of a full 10 000-iteration run: gan1d's two engines (fused, the default, and the
# autograd reference) against the same algorithm in PyTorch eager mode, all on one CPU thread,
# measured side by side (alternating runs) so that a shared, noisy machine slows all alike.
# Prints one line per round and the medians with their ratios.
#
#   make bench                 # builds gan1d, then runs this with the project's Python
#   ROUNDS=5 bench/speed.sh    # more rounds
#   BASELINE=/path/to/older/gan1d make bench   # also times another gan1d build, side by side
#                                              # (the default run of each), and compares them
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-python}
BIN=target/release/gan1d
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
# Runs gan1d with engine $1 and seed $2 (binary $3, default ours); prints the seconds taken.
gan1d_run() {
  local start end
  start=$(now)
  "${3:-$BIN}" train --engine "$1" --device cpu --threads 1 --seed "$2" --quiet --out "$out/run-$1" --overwrite >/dev/null 2>"$out/log-$1" \
    || { cat "$out/log-$1" >&2; exit 1; }
  end=$(now)
  awk "BEGIN {print $end - $start}"
}
fused=(); autograd=(); torch=(); baseline=()
for round in $(seq "$ROUNDS"); do
  if [ -n "${BASELINE:-}" ]; then
    b=$(gan1d_run fused "$round" "$BASELINE")
    printf 'round %d  baseline %s %6.2f s (%s)\n' "$round" "$BASELINE" "$b" "$(grep -o '[0-9]* it/s' "$out/log-fused")"
    baseline+=("$b")
  fi
  f=$(gan1d_run fused "$round")
  a=$(gan1d_run autograd "$round")
  start=$(now)
  "$PYTHON" -W ignore bench/pytorch_reference.py --seed "$round" --threads 1 >"$out/pt" 2>/dev/null
  end=$(now)
  p=$(awk "BEGIN {print $end - $start}")
  printf 'round %d  gan1d fused %6.2f s (%s)  gan1d autograd %6.2f s (%s)  pytorch-eager %6.2f s\n' "$round" \
    "$f" "$(grep -o '[0-9]* it/s' "$out/log-fused")" "$a" "$(grep -o '[0-9]* it/s' "$out/log-autograd")" "$p"
  fused+=("$f"); autograd+=("$a"); torch+=("$p")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mf=$(median "${fused[@]}"); ma=$(median "${autograd[@]}"); mp=$(median "${torch[@]}")
printf 'median over %d rounds (whole processes, 10 000 iterations, 1 thread): gan1d fused %.2f s, gan1d autograd %.2f s, pytorch-eager %.2f s\n' \
  "$ROUNDS" "$mf" "$ma" "$mp"
if [ -n "${BASELINE:-}" ]; then
  mb=$(median "${baseline[@]}")
  printf 'baseline %s: median %.2f s; this build takes %.3f of its time\n' "$BASELINE" "$mb" "$(awk "BEGIN {print $mf / $mb}")"
fi
printf 'fused is %.1fx faster than autograd and %.1fx faster than pytorch-eager; autograd is %.1fx faster than pytorch-eager\n' \
  "$(awk "BEGIN {print $ma / $mf}")" "$(awk "BEGIN {print $mp / $mf}")" "$(awk "BEGIN {print $mp / $ma}")"
