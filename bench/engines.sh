#!/usr/bin/env bash
# Speed of gan1d's engines side by side in one session: a single 10 000-iteration run, then
# ensembles of K = 1, 4, 16, 64, 256 members, each on one core and on all cores, for the native
# engine (the CPU's default), the fused engine (libtorch tensors) and, when BASELINE names one,
# an older gan1d build (its default engine); the autograd reference for the single run. With
# JAX_PYTHON (a Python with the packages of ../shared/anchors/requirements-jax.txt), the JAX
# program of ../shared/anchors runs beside them, and with PYTHON (torch) the PyTorch-eager one.
#
# Every figure is a whole process, `gan1d train` with its evaluations, checkpoints, plots and
# animation. "ms/member-it" is gan1d's own training time (what it reports: the loop with its
# evaluations and checkpoints, without start-up) per member and iteration; "process s" is the
# wall time of the whole command. Rounds alternate the programs, so that a shared, noisy
# machine slows all alike; medians are printed.
#
#   make bench                                   # builds gan1d, then this (about 10 minutes)
#   BASELINE=/path/to/older/gan1d make bench     # with an older build beside
#   KS="1 64" ROUNDS=1 bench/engines.sh          # a quicker look
#   JAX_PYTHON=jaxenv/bin/python bench/engines.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
KS=${KS:-1 4 16 64 256}
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-10000}
# Ensembles run fewer iterations: the time per member-iteration is what they measure.
ENSEMBLE_EPOCHS=${ENSEMBLE_EPOCHS:-2000}

# Runs `gan1d train` (binary $1, threads $2, then its arguments); prints "process_s ms_per_member_it".
gan1d_run() {
  local bin=$1 threads=$2 start end log
  shift 2
  rm -rf "$out/run"
  log="$out/log"
  start=$(now)
  if [ "$threads" = 1 ]; then
    one_core "$bin" train --device cpu --threads 1 --quiet --out "$out/run" "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  else
    "$bin" train --device cpu --threads "$threads" --quiet --out "$out/run" "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  fi
  end=$(now)
  # Single runs report "N it/s", ensembles "X ms per member-iteration".
  local ms
  ms=$(grep -o '[0-9.]* ms per member-iteration' "$log" | awk '{print $1}')
  if [ -z "$ms" ]; then ms=$(grep -o '[0-9]* it/s' "$log" | awk '{print 1000 / $1}'); fi
  awk -v s="$start" -v e="$end" -v ms="$ms" 'BEGIN {printf "%.3f %.5f\n", e - s, ms}'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Collects rounds of one configuration: label, then the command (a function and its arguments).
declare -A seconds millis
measure() {
  local label=$1
  shift
  local r
  r=$("$@")
  seconds[$label]="${seconds[$label]:-} ${r% *}"
  millis[$label]="${millis[$label]:-} ${r#* }"
}

jax_run() {
  local members=$1 epochs=$2 start end
  start=$(now)
  one_core "$JAX_PYTHON" "$ANCHORS/jax_ref.py" --seed 1 --members "$members" --epochs "$epochs" --out "$out/jax" \
    >/dev/null 2>"$out/jaxlog" \
    || { cat "$out/jaxlog" >&2; exit 1; }
  end=$(now)
  local ms
  ms=$(grep -o 'ms_per_iter_per_member[^0-9]*[0-9.e-]*' "$out/jaxlog" | grep -o '[0-9.e-]*$' | tail -1)
  awk -v s="$start" -v e="$end" -v ms="${ms:-nan}" 'BEGIN {printf "%.3f %s\n", e - s, ms}'
}

torch_run() {
  local start end
  start=$(now)
  one_core "$PYTHON" -W ignore bench/pytorch_reference.py --seed 1 --threads 1 --epochs "$EPOCHS" >/dev/null 2>&1
  end=$(now)
  awk -v s="$start" -v e="$end" -v n="$EPOCHS" 'BEGIN {printf "%.3f %.5f\n", e - s, (e - s) * 1000 / n}'
}

labels=()
add() { local l=$1; for x in "${labels[@]}"; do [ "$x" = "$l" ] && return; done; labels+=("$l"); }

for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for threads in 1 "$ALL"; do
    add "single native t$threads"; measure "single native t$threads" gan1d_run "$BIN" "$threads" --engine native --seed 1 --epochs "$EPOCHS"
    add "single fused t$threads"; measure "single fused t$threads" gan1d_run "$BIN" "$threads" --engine fused --seed 1 --epochs "$EPOCHS"
    if [ -n "${BASELINE:-}" ]; then
      add "single baseline t$threads"; measure "single baseline t$threads" gan1d_run "$BASELINE" "$threads" --seed 1 --epochs "$EPOCHS"
    fi
    [ "$ALL" = 1 ] && break
  done
  add "single autograd t1"; measure "single autograd t1" gan1d_run "$BIN" 1 --engine autograd --seed 1 --epochs "$EPOCHS"
  if [ -n "${PYTHON:-}" ] && "$PYTHON" -c 'import torch' 2>/dev/null; then
    add "single pytorch-eager t1"; measure "single pytorch-eager t1" torch_run
  fi
  if [ -n "${JAX_PYTHON:-}" ]; then
    add "single jax-jit t1"; measure "single jax-jit t1" jax_run 1 "$EPOCHS"
  fi
  for k in $KS; do
    for threads in 1 "$ALL"; do
      for engine in native fused; do
        add "K=$k $engine t$threads"
        measure "K=$k $engine t$threads" gan1d_run "$BIN" "$threads" --engine "$engine" --seeds "1..$k" --epochs "$ENSEMBLE_EPOCHS"
      done
      if [ -n "${BASELINE:-}" ]; then
        add "K=$k baseline t$threads"
        measure "K=$k baseline t$threads" gan1d_run "$BASELINE" "$threads" --seeds "1..$k" --epochs "$ENSEMBLE_EPOCHS"
      fi
      [ "$ALL" = 1 ] && break
    done
    if [ -n "${JAX_PYTHON:-}" ] && [ "$k" = 64 ]; then
      add "K=64 jax-vmap t1"; measure "K=64 jax-vmap t1" jax_run 64 "$ENSEMBLE_EPOCHS"
    fi
  done
done

printf '\n%-28s %12s %14s\n' "configuration" "process s" "ms/member-it"
for l in "${labels[@]}"; do
  # shellcheck disable=SC2086
  printf '%-28s %12.2f %14.4f\n' "$l" "$(median ${seconds[$l]})" "$(median ${millis[$l]})"
done
printf '\n(tN: N threads; t1 runs on one core. Single runs: %d iterations; ensembles: %d. %d rounds, medians.)\n' \
  "$EPOCHS" "$ENSEMBLE_EPOCHS" "$ROUNDS"
# shellcheck disable=SC2086
if [ -n "${JAX_PYTHON:-}" ]; then
  printf 'single run: gan1d native takes %.2f of JAX'"'"'s whole-process time\n' \
    "$(awk -v a="$(median ${seconds["single native t1"]})" -v b="$(median ${seconds["single jax-jit t1"]})" 'BEGIN {print a / b}')"
fi
