#!/usr/bin/env bash
# Every CUDA check of gan1d in one go, for a GPU machine: what runs on the device, what
# crosses devices, interruption, and speed against the same machine's CPU. Writes its
# report to $OUT/cuda_check.txt (or ./cuda_check.txt) and a folder per check beside it.
#
#   BIN=path/to/gan1d bench/cuda_check.sh
#
# The binary must match the machine's libtorch (see SPEC §5: for torch 2.11.0+cu130, build a
# scratch clone with tch and torch-sys 0.24), and LD_LIBRARY_PATH must reach that torch's
# lib folders. QUICK=1 shortens the runs for a dry run on a CPU-only machine with
# DEVICE=cpu (every check then runs on the CPU, which proves the script, not CUDA).
set -uo pipefail
BIN=${BIN:-target/release/gan1d}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}   # a Python with torch, for reading checkpoints (e.g. /opt/torch/.venv/bin/python)
EPOCHS=${EPOCHS:-10000}
[ -n "${QUICK:-}" ] && EPOCHS=400
KS=${KS:-64 1024 4096}
[ -n "${QUICK:-}" ] && KS="4 16"
work=${OUT:-.}/cuda_check
mkdir -p "$work"
report=${OUT:-.}/cuda_check.txt
: >"$report"
say() { echo "$*" | tee -a "$report"; }
now() { date +%s.%N; }
secs() { awk "BEGIN {printf \"%.2f\", $2 - $1}"; }
check() {  # check NAME COMMAND…: runs it, records the exit code and the stderr's last lines
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  say "[$name] exit $rc: $*"
  tail -3 "$work/$name.err" | sed 's/^/    /' | tee -a "$report"
  return $rc
}
metric() {  # metric DIR: evaluate -n 10000 on the CPU: a curve's residual, KS, widest gap and
  # energy; a plane target's modes covered, high-quality share, KS and energy
  "$BIN" evaluate --checkpoint "$1" -n 10000 --json 2>/dev/null | "$PYTHON" -c '
import json, sys
g = json.load(sys.stdin)["generated"]
if g.get("modes") is not None:
    print("modes %d of %d, HQ %.3f, KS %.4f, energy %.5f" % (g["modes_covered"], g["modes"], g["high_quality_share"], g["ks"], g["energy_distance"]))
else:
    print("residual %.4f KS %.4f gap %.4f energy %.5f" % (g["residual_mean"], g["ks"], g["widest_gap"], g["energy_distance"]))'
}

say "gan1d CUDA check, $(date -u), device $DEVICE, $EPOCHS iterations"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /' | tee -a "$report"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null | tee -a "$report"

say "== 1. full runs on $DEVICE against the CPU, seeds 1-3"
for seed in 1 2 3; do
  t0=$(now); check "gpu-$seed" "$BIN" train --device "$DEVICE" --seed "$seed" --epochs "$EPOCHS" --quiet --out "$work/gpu-$seed"; t1=$(now)
  check "cpu-$seed" "$BIN" train --device cpu --seed "$seed" --epochs "$EPOCHS" --quiet --out "$work/cpu-$seed"; t2=$(now)
  say "seed $seed: $DEVICE $(secs "$t0" "$t1") s: $(metric "$work/gpu-$seed")"
  say "seed $seed: cpu  $(secs "$t1" "$t2") s: $(metric "$work/cpu-$seed")"
  ls "$work/gpu-$seed" "$work/gpu-$seed/plots" | tr '\n' ' ' | sed 's/^/    files: /' | tee -a "$report"; echo | tee -a "$report"
  "$PYTHON" - "$work/gpu-$seed" "$work/cpu-$seed" <<'EOF' | tee -a "$report"
import csv, sys
rows = [list(csv.DictReader(open(f"{d}/metrics.csv"))) for d in sys.argv[1:]]
for a, b in zip(*rows):
    print(f"    eval {a['iteration']}: acc_real {a['acc_real']} vs {b['acc_real']}, residual {float(a['residual_mean']):.5f} vs {float(b['residual_mean']):.5f}")
EOF
done
"$BIN" train --device "$DEVICE" --seed 1 --epochs 1 --quiet --out "$work/first-gpu" 2>/dev/null
"$BIN" train --device cpu --seed 1 --epochs 1 --quiet --out "$work/first-cpu" 2>/dev/null
"$PYTHON" - "$work/first-gpu" "$work/first-cpu" <<'EOF' | tee -a "$report"
import json, sys
import torch
def load(d):
    m = json.load(open(f"{d}/config.json"))
    mod = torch.jit.load(f"{d}/{m['files']['generator']['name']}")
    return {n: t.detach() for n, t in mod.named_parameters()}
a, b = load(sys.argv[1]), load(sys.argv[2])
print("after one iteration, largest |cuda - cpu| generator weight difference:", max((a[k] - b[k]).abs().max().item() for k in a))
EOF

say "== 2. device choice"
check auto "$BIN" train --device auto --epochs 10 --eval-every 10 --quiet --out "$work/auto"
grep -q "picked cuda" "$work/auto.err" && say "    auto picked CUDA" || say "    auto did NOT pick CUDA"
check cuda1 "$BIN" train --device cuda:1 --epochs 10 --out "$work/cuda1"
say "    stderr lines: $(wc -l <"$work/cuda1.err"), folder created: $([ -e "$work/cuda1" ] && echo yes || echo no)"

say "== 3. checkpoints across devices"
check sample-cpu "$BIN" sample --checkpoint "$work/gpu-1" -n 5
check evaluate-cpu "$BIN" evaluate --checkpoint "$work/gpu-1" -n 1000
cp -r "$work/gpu-1" "$work/gpu-then-cpu"; cp -r "$work/cpu-1" "$work/cpu-then-gpu"
check resume-on-cpu "$BIN" train --resume "$work/gpu-then-cpu" --device cpu --epochs $((EPOCHS + 200)) --quiet
check resume-on-gpu "$BIN" train --resume "$work/cpu-then-gpu" --device "$DEVICE" --epochs $((EPOCHS + 200)) --quiet

say "== 3b. lazy CUDA: is libtorch_cuda mapped by a CPU run, and by a run on $DEVICE?"
for dev in cpu "$DEVICE"; do
  rm -rf "$work/maps-$dev"
  "$BIN" train --device "$dev" --epochs 1000000 --eval-every 1000000 --quiet --out "$work/maps-$dev" >/dev/null 2>&1 &
  pid=$!
  sleep 3
  if grep -q libtorch_cuda "/proc/$pid/maps" 2>/dev/null; then mapped=yes; else mapped=no; fi
  kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  say "[maps-$dev] libtorch_cuda mapped: $mapped"
done

say "== 4. SIGINT on $DEVICE, then resume"
"$BIN" train --device "$DEVICE" --epochs 1000000 --eval-every 500 --quiet --out "$work/sigint" >/dev/null 2>"$work/sigint.err" &
pid=$!
for _ in $(seq 600); do [ -e "$work/sigint/config.json" ] && break; sleep 0.1; done
sleep 1; kill -INT "$pid"; wait "$pid"; rc=$?
say "[sigint] exit $rc"; tail -2 "$work/sigint.err" | sed 's/^/    /' | tee -a "$report"
reached=$("$PYTHON" -c "import json; print(json.load(open('$work/sigint/config.json'))['iteration'])")
check sigint-resume "$BIN" train --resume "$work/sigint" --device "$DEVICE" --epochs $((reached + 100)) --quiet

say "== 4b. training choices on $DEVICE: the robust recipe on grid and sine, packing, the critic's loss"
for args in "--recipe robust --target grid" "--recipe robust --target sine" "--pack 4 --target ring" \
  "--loss wasserstein --beta2 0.9 --d-steps 5 --target grid"; do
  name=choice-$(echo "$args" | tr -cs 'a-z0-9' '-' | sed 's/-$//')
  # shellcheck disable=SC2086
  check "$name" "$BIN" train --device "$DEVICE" --epochs "$EPOCHS" --eval-every "$EPOCHS" --quiet --out "$work/$name" $args
  say "    $(metric "$work/$name" 2>/dev/null || echo "no metrics")"
done
# Gradient penalties and spectral normalisation (issue 33) join this list when they land.

CORES=$(nproc)
WIDE_EPOCHS=${WIDE_EPOCHS:-500}
[ -n "${QUICK:-}" ] && WIDE_EPOCHS=20
say "== 5. speed: single run and ensembles, $DEVICE (fused engine) against the CPU (native engine, $CORES threads)"
for dev in cpu "$DEVICE"; do
  t0=$(now); "$BIN" train --device "$dev" --threads "$CORES" --g-hidden 512,512,512 --d-hidden 512,512,512 --batch 256 \
    --epochs "$WIDE_EPOCHS" --eval-every "$WIDE_EPOCHS" --quiet --out "$work/wide-$dev" --overwrite >/dev/null 2>"$work/wide-$dev.err"; t1=$(now)
  say "G and D 512,512,512, batch 256, $WIDE_EPOCHS iterations on $dev: $(secs "$t0" "$t1") s, $(grep -o '[0-9]* it/s' "$work/wide-$dev.err")"
done
for dev in cpu "$DEVICE"; do
  t0=$(now); "$BIN" train --device "$dev" --seed 1 --epochs "$EPOCHS" --quiet --out "$work/speed-$dev" --overwrite >/dev/null 2>&1; t1=$(now)
  say "single run on $dev: $(secs "$t0" "$t1") s"
done
for k in $KS; do
  for dev in "$DEVICE" cpu; do
    if [ "$dev" = cpu ] && [ "$k" -gt 1024 ]; then continue; fi
    rm -rf "$work/ens-$dev-$k"
    t0=$(now); "$BIN" train --device "$dev" --threads "$CORES" --seeds "1..$k" --epochs "$EPOCHS" --quiet --out "$work/ens-$dev-$k" >/dev/null 2>"$work/ens-$dev-$k.err"; rc=$?; t1=$(now)
    s=$(secs "$t0" "$t1")
    say "K=$k on $dev: exit $rc, $s s, $(awk "BEGIN {printf \"%.5f\", $s * 1000 / ($EPOCHS * $k)}") ms per member-iteration"
  done
done
say "done: $(date -u)"
