#!/usr/bin/env bash
# The README's "Mode collapse": the protocol of PacGAN (Lin et al., NeurIPS 2018, Table 1),
# the same as VEEGAN's and Unrolled GAN's, on gan1d's `ring` (8 Gaussians of σ 0.01 on the
# unit circle) and `grid` (25 Gaussians of σ 0.05 at {−4, −2, 0, 2, 4}²). Trains every
# configuration below on both targets with seeds 1..SEEDS, scores each final generator on
# 2 500 points (`gan1d evaluate -n 2500`: modes covered, high-quality share), and writes
#   bench/mode_collapse.md           the table, beside PacGAN's published rows
#   docs/findings/mode-<row>-<target>.png   the final plot of each row's worst seed
# Runs JOBS trainings at once, one thread each. About 2 hours on 2 cores (SEEDS=10, JOBS=2);
# SEEDS=3 takes about 45 minutes.
# The WGAN-GP paper's toy configuration (three layers of 512, five critic steps) costs about
# 0.15 s an iteration on one core, so its row trains TOY_SEEDS seeds (1) for TOY_EPOCHS
# iterations (2 000) on the grid alone, and says so.
#
#   make build && bench/mode_collapse.sh
#   SEEDS=3 bench/mode_collapse.sh        # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-10}
JOBS=${JOBS:-2}
TOY_SEEDS=${TOY_SEEDS:-1}
TOY_EPOCHS=${TOY_EPOCHS:-2000}
BIN=$PWD/target/release/gan1d
[ -x "$BIN" ] || { echo "build gan1d first: make build" >&2; exit 1; }
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
started=$(date +%s)

# row | what it is | flags (the same on both targets) | targets (both if empty) | seeds (SEEDS if empty)
CONFIGS='gan|plain GAN: the robust recipe without its penalty|--recipe robust --penalty none||
robust|gan1d'"'"'s robust recipe (the WGAN-GP penalty, λ 0.1, with BCE)|--recipe robust||
r1|the robust recipe with R1 (γ 1) for its penalty|--recipe robust --penalty r1 --penalty-weight 1||
r2|the robust recipe with R2 (γ 1) for its penalty|--recipe robust --penalty r2 --penalty-weight 1||
dragan|the robust recipe with DRAGAN (λ 1) for its penalty|--recipe robust --penalty dragan --penalty-weight 1||
sn|the robust recipe with spectral normalisation for its penalty|--recipe robust --penalty none --spectral-norm||
pack2|packing 2 (as PacGAN2), G 32,32, no penalty: the earlier robust recipe|--recipe robust --pack 2 --g-hidden 32,32 --penalty none||
pack4|packing 4 (as PacGAN4), G 32,32, no penalty|--recipe robust --pack 4 --g-hidden 32,32 --penalty none||
toy|the WGAN-GP paper'"'"'s toy configuration, '"$TOY_EPOCHS"' iterations|--loss wasserstein --penalty wgan-gp --penalty-weight 0.1 --d-steps 5 --g-hidden 512,512,512 --d-hidden 512,512,512 --learning-rate 0.0001 --beta1 0.5 --beta2 0.9 --batch 256 --epochs '"$TOY_EPOCHS"' --eval-every '"$TOY_EPOCHS"'|grid|'"$TOY_SEEDS"

one_run() {  # row target seed flags…
  local row=$1 target=$2 seed=$3; shift 3
  local dir="$runs/$row-$target/seed-$seed"
  mkdir -p "$runs/$row-$target"
  local start=$EPOCHREALTIME
  # shellcheck disable=SC2068
  "$BIN" train --quiet --device cpu --threads 1 --target "$target" --seed "$seed" --out "$dir" $@ \
    >/dev/null 2>"$dir.log" || { echo "failed: $row $target seed $seed" >&2; cat "$dir.log" >&2; return 1; }
  echo "$start $EPOCHREALTIME" >"$dir.time"
  "$BIN" evaluate --checkpoint "$dir" -n 2500 --json >"$dir.json"
}
export -f one_run
export BIN runs

while IFS='|' read -r row _ flags targets seeds; do
  for target in ${targets:-ring grid}; do
    for seed in $(seq "${seeds:-$SEEDS}"); do printf '%s %s %s %s\n' "$row" "$target" "$seed" "$flags"; done
  done
done <<<"$CONFIGS" | xargs -P "$JOBS" -L 1 bash -c 'one_run "$@"' _

mkdir -p docs/findings
CONFIGS="$CONFIGS" SEEDS="$SEEDS" RUNS="$runs" SECONDS_TAKEN=$(($(date +%s) - started)) python3 - <<'PY'
import glob, json, os, shutil, statistics

runs, seeds = os.environ["RUNS"], int(os.environ["SEEDS"])
modes = {"ring": 8, "grid": 25}
lines = [
    f"Means over seeds 1–{seeds} of gan1d's runs (worst seed in brackets), each scored on 2 500 "
    "points by `gan1d evaluate -n 2500`; PacGAN's rows are its Table 1 (means of 10 trials; G 4 × 400 "
    "units with batch norm, D 3 maxout layers of 200, Adam 1e-4, about 400 000 iterations on a GPU). "
    "*All modes* counts the seeds that cover every mode.",
    "",
    "| configuration | ring modes | ring HQ | ring: all modes | grid modes | grid HQ | grid: all modes | slowest run (s) |",
    "|---|---|---|---|---|---|---|---|",
    "| PacGAN's GAN | 6.3 | 98.2 % | | 17.3 | 94.8 % | | |",
    "| PacGAN2 | 7.9 | 95.6 % | | 23.8 | 91.3 % | | |",
    "| PacGAN4 | 7.8 | 95.9 % | | 24.8 | 93.6 % | | |",
]
for line in os.environ["CONFIGS"].splitlines():
    row, what, flags, targets, row_seeds = line.split("|")
    n = int(row_seeds or seeds)
    cells, slowest = [], 0.0
    for target in ("ring", "grid"):
        if targets and target not in targets.split():
            cells += ["—", "—", "—"]
            continue
        reports = [json.load(open(f"{runs}/{row}-{target}/seed-{s}.json"))["generated"] for s in range(1, n + 1)]
        covered = [r["modes_covered"] for r in reports]
        hq = [100 * r["high_quality_share"] for r in reports]
        full = sum(c == modes[target] for c in covered)
        cells += [
            f"{statistics.mean(covered):.1f} ({min(covered):.0f})",
            f"{statistics.mean(hq):.1f} % ({min(hq):.1f} %)",
            f"{full} of {n}",
        ]
        spans = [open(f"{runs}/{row}-{target}/seed-{s}.time").read().split() for s in range(1, n + 1)]
        slowest = max([slowest] + [float(end) - float(start) for start, end in spans])
        # The row's worst seed (fewest modes, then lowest HQ), as a picture.
        worst = min(range(n), key=lambda i: (covered[i], hq[i])) + 1
        # The last evaluation's plot: by number, as iter_159999 sorts before iter_39999.
        plots = glob.glob(f"{runs}/{row}-{target}/seed-{worst}/plots/iter_*.png")
        last = max(plots, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
        shutil.copy(last, f"docs/findings/mode-{row}-{target}.png")
    note = f", {n} seed{'s' if n > 1 else ''}" if n != seeds else ""
    lines.append(f"| {what}{note} (`{flags.strip()}`) | " + " | ".join(cells) + f" | {slowest:.0f} |")
taken = int(os.environ["SECONDS_TAKEN"])
lines += ["", f"Regenerated by `bench/mode_collapse.sh` in {taken // 60} min {taken % 60} s."]
open("bench/mode_collapse.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
