#!/usr/bin/env bash
# Wide networks side by side: gan1d's native engine (one core, then all cores), its fused
# engine (libtorch) and, with JAX_PYTHON, the JAX program of ../shared/anchors, at hidden
# widths 64, 256 and 512, two and three layers, batch 128, and the WGAN-GP paper's toy size
# (three layers of 512) at batch 256 as well.
#
# "ms/it" is the training loop alone: gan1d runs N and 2N iterations and the difference is
# divided by N, which leaves out start-up and the final evaluation; N is chosen per size so
# that N iterations take about LOOP_S seconds (default 2). JAX runs 2N iterations and
# reports its loop time (its compile time excluded). "GFLOP/s" is the layer products' floating-point work of one
# iteration (a multiply-add counts two) over that time, the whole iteration's cost included:
# a lower bound on the products' own rate. With PEAK (GFLOP/s, as `cargo bench --bench
# kernels` measures it; `make bench` passes it) the share of one core's peak is printed too.
# The JAX anchor fixes its batch at 128: at batch 256 only gan1d runs.
#
#   make bench                                 # the kernels, then this and bench/engines.sh
#   LOOP_S=0.5 bench/wide.sh                    # a quicker look
#   JAX_PYTHON=jaxenv/bin/python bench/wide.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
LOOP_S=${LOOP_S:-2}

# Seconds gan1d reports for `train` with threads $1, then its arguments.
train_s() {
  local threads=$1
  shift
  rm -rf "$out/run"
  local run=("$BIN" train --device cpu --threads "$threads" --quiet --out "$out/run" --seed 1 --eval-every $((2 * N)) "$@")
  if [ "$threads" = 1 ]; then run=(one_core "${run[@]}"); fi
  "${run[@]}" >/dev/null 2>"$out/log" || { cat "$out/log" >&2; exit 1; }
  grep -o 'iterations in [0-9.]* s' "$out/log" | awk '{print $3}'
}

# The loop's ms per iteration: (time of 2N) − (time of N), over N.
loop_ms() {
  local threads=$1
  shift
  local one two
  one=$(train_s "$threads" --epochs "$N" "$@")
  two=$(train_s "$threads" --epochs $((2 * N)) "$@")
  awk -v a="$one" -v b="$two" -v n="$N" 'BEGIN {printf "%.3f", (b - a) * 1000 / n}'
}

jax_ms() {
  one_core "$JAX_PYTHON" "$ANCHORS/jax_ref.py" --seed 1 --epochs $((2 * N)) --n-eval $((2 * N)) \
    --d-hidden "$1" --g-hidden "$1" --out "$out/jax" >/dev/null 2>"$out/jaxlog" || { cat "$out/jaxlog" >&2; exit 1; }
  grep -o 'ms_per_iter [0-9.e-]*' "$out/jaxlog" | tail -1 | awk '{printf "%.3f", $2}'
}

# Multiply-adds of one iteration's layer products (the tutorial's algorithm, one D step):
# B·(5·MD − MD₁ + 3.5·MG − MG₁), with M the sum of inputs × outputs over a network's layers
# and M₁ its first layer's (D takes 2 numbers, G 5, both widths hidden).
macs() {
  awk -v widths="$1" -v b="$2" 'BEGIN {
    n = split(widths, w, ",")
    md = 2 * w[1]; mg = 5 * w[1]
    for (i = 2; i <= n; i++) { md += w[i - 1] * w[i]; mg += w[i - 1] * w[i] }
    md += w[n]; mg += 2 * w[n]
    printf "%.0f", b * (5 * md - 2 * w[1] + 3.5 * mg - 5 * w[1])
  }'
}

gflops() { awk -v m="$1" -v ms="$2" 'BEGIN {if (ms > 0) printf "%.1f", 2 * m / (ms / 1000) / 1e9; else printf "-"}'; }
share() { if [ -n "${PEAK:-}" ] && [ "$1" != "-" ]; then awk -v g="$1" -v p="$PEAK" 'BEGIN {printf "%.0f %%", 100 * g / p}'; else printf -- "-"; fi; }

printf '%-22s %5s  %-22s %9s %9s %9s\n' "hidden (G and D)" "batch" "program" "ms/it" "GFLOP/s" "of peak"
row() { printf '%-22s %5s  %-22s %9s %9s %9s\n' "$@"; }
for widths in 64,64 256,256 512,512 64,64,64 256,256,256 512,512,512; do
  batches="128"
  [ "$widths" = 512,512,512 ] && batches="128 256"
  for batch in $batches; do
    m=$(macs "$widths" "$batch")
    # About LOOP_S seconds of iterations, at a guessed 0.05 ms plus 20 GFLOP/s an iteration;
    # a multiple of 50 and at least 100, so that both runs draw their animation's 50 frames
    # (each one the discriminator's view, costly at these widths) and the difference has none.
    N=$(awk -v m="$m" -v s="$LOOP_S" 'BEGIN {ms = 0.05 + 2 * m / 20e9 * 1000; n = 50 * int(s * 1000 / ms / 50); print (n < 100) ? 100 : n}')
    args=(--g-hidden "$widths" --d-hidden "$widths" --batch "$batch")
    for threads in 1 "$ALL"; do
      ms=$(loop_ms "$threads" "${args[@]}")
      g=$(gflops "$m" "$ms")
      row "$widths" "$batch" "gan1d native t$threads" "$ms" "$g" "$(share "$g")"
      [ "$ALL" = 1 ] && break
    done
    ms=$(loop_ms 1 "${args[@]}" --engine fused)
    g=$(gflops "$m" "$ms")
    row "$widths" "$batch" "gan1d fused t1" "$ms" "$g" "$(share "$g")"
    if [ -n "${JAX_PYTHON:-}" ] && [ "$batch" = 128 ]; then
      ms=$(jax_ms "$widths")
      g=$(gflops "$m" "$ms")
      row "$widths" "$batch" "jax-jit t1" "$ms" "$g" "$(share "$g")"
    fi
  done
done
printf '\n(tN: N threads; t1 on one core. GFLOP/s: the layer products over the whole iteration.)\n'
