#!/usr/bin/env bash
# Quality of full runs over many seeds, for each engine: trains the tutorial's 10 000
# iterations for seeds 1..SEEDS with each engine, measures each with `gan1d evaluate` (10 000
# points), and prints the median, quartiles and worst of the mean |y − x²| and of the energy
# distance. The engines agree step by step to float32 rounding, but a GAN amplifies rounding,
# so their runs of one seed end apart; their distributions over seeds are what should match.
#
#   bench/quality.sh              # SEEDS=10, every engine
#   SEEDS=20 ENGINES=fused bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-10}
ENGINES=${ENGINES:-native fused autograd}
BIN=target/release/gan1d
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

summary() {  # reads numbers, prints median [p25–p75] max
  sort -g | awk '{a[NR]=$1} END {n=NR; printf "median %.4f [%.4f–%.4f] worst %.4f", (a[int((n+1)/2)]+a[int(n/2)+1])/2, a[int((n+3)/4)], a[int((3*n+1)/4)], a[n]}'
}
for engine in $ENGINES; do
  : >"$out/$engine.tsv"
  for seed in $(seq "$SEEDS"); do
    "$BIN" train --engine "$engine" --seed "$seed" --device cpu --quiet --out "$out/run" --overwrite >/dev/null 2>"$out/log" || { cat "$out/log" >&2; exit 1; }
    read -r residual energy < <("$BIN" evaluate --checkpoint "$out/run" --json | python3 -c \
      'import json, sys; g = json.load(sys.stdin)["generated"]; print(g["residual_mean"], g["energy_distance"])')
    printf '%s\t%s\t%s\n' "$seed" "$residual" "$energy" >>"$out/$engine.tsv"
    printf '%-8s seed %2d  residual mean %.4f  energy distance %.5f\n' "$engine" "$seed" "$residual" "$energy"
  done
  printf '%-8s %d seeds: residual mean %s; energy distance %s\n' "$engine" "$SEEDS" \
    "$(cut -f2 "$out/$engine.tsv" | summary)" "$(cut -f3 "$out/$engine.tsv" | summary)"
done
