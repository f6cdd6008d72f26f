#!/usr/bin/env bash
# The README's "Findings": the tutorial's suggested extensions, the losses and the robust
# recipe measured. Trains every configuration below with seeds 1..SEEDS (the tutorial's
# 10 000 iterations, or the recipe's), measures each final generator with
# `gan1d evaluate -n 10000`, and writes
#   bench/findings.md                  the table: median and range over the seeds of each metric
#   docs/findings/<target>.png         the final scatter plot of each target's median-residual
#                                      seed under the tutorial's recipe
#   docs/findings/robust-<target>.png  the same under --recipe robust
# Runs JOBS trainings at once, one thread each. About 45 minutes on 2 cores (SEEDS=8, JOBS=2).
#
#   make build && bench/findings.sh
#   SEEDS=16 JOBS=8 bench/findings.sh
#   GALLERY_ONLY=1 bench/findings.sh   only the pictures: the target: and robust: rows (about 5
#                                      minutes on 2 cores); bench/findings.md is left as it is
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-8}
JOBS=${JOBS:-2}
BIN=$PWD/target/release/gan1d
[ -x "$BIN" ] || { echo "build gan1d first: make build" >&2; exit 1; }
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
started=$(date +%s)

# name | what it varies | flags (the tutorial's defaults otherwise)
CONFIGS='square|target: the tutorial'"'"'s x²|
cube|target: x³|--target cube
sine|target: one period of sin|--target sine
gaussian|target: a Gaussian bump|--target gaussian
quadratic|target: a shifted, tilted parabola|--target quadratic
multimodal|target: degree-6 polynomial, 4 peaks|--target multimodal
wider|x², G 32 and D 50 wide|--g-hidden 32 --d-hidden 50
deeper|x², two hidden layers each|--g-hidden 15,15 --d-hidden 25,25
leaky|x², LeakyReLU (slope 0.3)|--activation leaky-relu
tanh|x², tanh output, data scaled|--g-output tanh
sine-tanh|one period of sin, tanh output, scaled|--target sine --g-output tanh
multimodal-deeper|multimodal, two hidden layers, LeakyReLU|--target multimodal --g-hidden 15,15 --d-hidden 25,25 --activation leaky-relu
least-squares|x², least-squares loss|--loss least-squares
hinge|x², hinge loss|--loss hinge
relativistic|x², relativistic loss|--loss relativistic
sine-least-squares|sine, least-squares loss|--target sine --loss least-squares
sine-hinge|sine, hinge loss|--target sine --loss hinge
sine-relativistic|sine, relativistic loss|--target sine --loss relativistic
sine-d-steps|sine, two D rounds per G update|--target sine --d-steps 2
sine-beta1|sine, Adam β₁ 0.5|--target sine --beta1 0.5
robust-square|robust: x²|--recipe robust
robust-cube|robust: x³|--recipe robust --target cube
robust-sine|robust: one period of sin|--recipe robust --target sine
robust-gaussian|robust: a Gaussian bump|--recipe robust --target gaussian
robust-quadratic|robust: the shifted, tilted parabola|--recipe robust --target quadratic
robust-multimodal|robust: degree-6 polynomial|--recipe robust --target multimodal
sn-r1-square|robust, spectral norm, R1 0.1, 200 000 iterations: x²|--recipe robust --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000
sn-r1-cube|the same: x³|--recipe robust --target cube --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000
sn-r1-sine|the same: one period of sin|--recipe robust --target sine --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000
sn-r1-gaussian|the same: a Gaussian bump|--recipe robust --target gaussian --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000
sn-r1-quadratic|the same: the shifted, tilted parabola|--recipe robust --target quadratic --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000
sn-r1-multimodal|the same: degree-6 polynomial|--recipe robust --target multimodal --spectral-norm --penalty r1 --penalty-weight 0.1 --epochs 200000 --eval-every 50000 --lr-half-life 50000'

if [ -n "${GALLERY_ONLY:-}" ]; then
  CONFIGS=$(grep -E '^[^|]*\|(target|robust):' <<<"$CONFIGS")
fi

one_run() {  # config seed flags…
  local name=$1 seed=$2; shift 2
  local dir="$runs/$name/seed-$seed"
  mkdir -p "$runs/$name"
  # shellcheck disable=SC2068
  local start=$EPOCHREALTIME
  "$BIN" train --quiet --device cpu --threads 1 --seed "$seed" --out "$dir" $@ >/dev/null 2>"$dir.log" \
    || { echo "failed: $name seed $seed" >&2; cat "$dir.log" >&2; return 1; }
  echo "$start $EPOCHREALTIME" >"$dir.time"
  "$BIN" evaluate --checkpoint "$dir" -n 10000 --json >"$dir.json"
}
export -f one_run
export BIN runs

while IFS='|' read -r name _ flags; do
  # No trailing blank: xargs -L would join the next line on.
  for seed in $(seq "$SEEDS"); do printf '%s %s%s\n' "$name" "$seed" "${flags:+ $flags}"; done
done <<<"$CONFIGS" | xargs -P "$JOBS" -L 1 bash -c 'one_run "$@"' _

mkdir -p docs/findings
GALLERY_ONLY="${GALLERY_ONLY:-}" CONFIGS="$CONFIGS" SEEDS="$SEEDS" RUNS="$runs" SECONDS_TAKEN=$(($(date +%s) - started)) python3 - <<'PY'
import glob, json, os, re, shutil, statistics

runs, seeds = os.environ["RUNS"], int(os.environ["SEEDS"])
metrics = [("residual_mean", "residual"), ("ks", "KS"), ("widest_gap", "widest gap"), ("energy_distance", "energy")]
# Each built-in target's height over the default domain (its range), for the residual's share.
heights = {"square": 0.25, "cube": 0.25, "sine": 2.0, "gaussian": 1 - 2.718281828459045 ** -4.5,
           "quadratic": 1.36125, "multimodal": 2.0}
lines = [
    f"Medians over seeds 1–{seeds} (smallest–largest in brackets), each trained for its recipe's "
    "iterations (the tutorial's 10 000, robust's 20 000, the sn-r1 rows' 200 000), measured with `gan1d evaluate -n 10000`. "
    "*Residual / height* is the residual as a share of the target's height.",
    "",
    "| configuration | varies | " + " | ".join(label for _, label in metrics) + " | residual / height | slowest run (s) |",
    "|---|---|" + "---|" * (len(metrics) + 2),
]
for row in os.environ["CONFIGS"].splitlines():
    name, varies, flags = row.split("|")
    reports = [json.load(open(f"{runs}/{name}/seed-{s}.json")) for s in range(1, seeds + 1)]
    cells = []
    for key, _ in metrics:
        values = [r["generated"][key] for r in reports]
        cells.append(f"{statistics.median(values):.4f} ({min(values):.4f}–{max(values):.4f})")
    target = re.search(r"--target (\S+)", flags)
    height = heights[target.group(1) if target else "square"]
    shares = [100 * r["generated"]["residual_mean"] / height for r in reports]
    cells.append(f"{statistics.median(shares):.1f} % ({min(shares):.1f}–{max(shares):.1f})")
    spans = [open(f"{runs}/{name}/seed-{s}.time").read().split() for s in range(1, seeds + 1)]
    times = [float(end) - float(start) for start, end in spans]
    cells.append(f"{max(times):.1f}")
    lines.append(f"| {name} | {varies} | " + " | ".join(cells) + " |")
    # The galleries, one picture per target and recipe: the final plot of the seed whose
    # residual is the median's (the lower middle one).
    if varies.startswith("target:") or varies.startswith("robust:"):
        ranked = sorted(range(seeds), key=lambda i: reports[i]["generated"]["residual_mean"])
        seed = ranked[(seeds - 1) // 2] + 1
        plots = glob.glob(f"{runs}/{name}/seed-{seed}/plots/iter_*.png")
        last = max(plots, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
        shutil.copy(last, f"docs/findings/{name}.png")
floor = json.load(open(f"{runs}/square/seed-1.json"))["real_floor"]
lines += [
    "",
    "Real points scored against real points (the best possible on 10 000 points), for x²: "
    + ", ".join(f"{label} {floor[key]:.4f}" for key, label in metrics) + ".",
    "",
    f"Regenerated by `bench/findings.sh` in {int(os.environ['SECONDS_TAKEN']) // 60} min "
    f"{int(os.environ['SECONDS_TAKEN']) % 60} s.",
]
if os.environ.get("GALLERY_ONLY"):
    print("the gallery redrawn: docs/findings/*.png (bench/findings.md left as it was)")
else:
    open("bench/findings.md", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
PY
