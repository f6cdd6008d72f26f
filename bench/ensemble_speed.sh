#!/usr/bin/env bash
# Wall time of ensembles against their size K: `gan1d train --seeds 1..K`, the whole
# 10 000-iteration run with its evaluations, checkpoints and plots, on THREADS CPU threads
# (default 1) with ENGINE (default native), beside a single run (`--seed 1`) measured in the
# same session. Prints a table, and writes it to
# bench/ensemble_speed.csv with a plot, bench/ensemble_speed.svg.
#
#   bench/ensemble_speed.sh                 # K = 1 4 16 64 256 (about 5 minutes on 2 cores)
#   KS="1 4 16" bench/ensemble_speed.sh     # other sizes
#   DEVICE=cuda KS="64 1024 4096" bench/ensemble_speed.sh   # on a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/gan1d}
KS=${KS:-1 4 16 64 256}
DEVICE=${DEVICE:-cpu}
ENGINE=${ENGINE:-$([ "$DEVICE" = cpu ] && echo native || echo fused)}
THREADS=${THREADS:-1}
EPOCHS=${EPOCHS:-10000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
# Runs `gan1d train` with the given arguments into a fresh folder; prints the seconds taken.
timed() {
  local start end
  rm -rf "$out/run"
  start=$(now)
  "$BIN" train --device "$DEVICE" --engine "$ENGINE" --threads "$THREADS" --epochs "$EPOCHS" --quiet --out "$out/run" "$@" >/dev/null 2>"$out/log" \
    || { cat "$out/log" >&2; exit 1; }
  end=$(now)
  awk "BEGIN {print $end - $start}"
}

single=$(timed --seed 1)
csv=bench/ensemble_speed.csv
echo "k,seconds,ms_per_member_iteration,times_single_run" >"$csv"
printf '%6s  %10s  %24s  %14s\n' K "wall time" "ms per member-iteration" "× single run"
printf '%6s  %9.2fs  %24.4f  %14s\n' "single" "$single" "$(awk "BEGIN {print $single * 1000 / $EPOCHS}")" "1.00"
for k in $KS; do
  s=$(timed --seeds "1..$k")
  per=$(awk "BEGIN {print $s * 1000 / ($EPOCHS * $k)}")
  ratio=$(awk "BEGIN {print $s / $single}")
  printf '%6d  %9.2fs  %24.4f  %14.2f\n' "$k" "$s" "$per" "$ratio"
  echo "$k,$s,$per,$ratio" >>"$csv"
done
echo "device $DEVICE, engine $ENGINE, $EPOCHS iterations, $THREADS thread(s); single run $single s" >&2

# The plot: wall time and time per member-iteration against K, both axes logarithmic.
awk -F, -v single="$single" '
  NR == 1 { next }
  { k[++n] = $1; s[n] = $2; p[n] = $3 }
  END {
    W = 640; H = 420; L = 70; R = 70; T = 40; B = 50
    lk = log(k[1]) / log(10); hk = log(k[n]) / log(10); if (hk == lk) hk = lk + 1
    ls = log(single * 0.8) / log(10); hs = log(s[n] * 1.25) / log(10)
    lp = log(p[n] * 0.8) / log(10); hp = log(p[1] * 1.25) / log(10)
    if (hp <= lp) hp = lp + 1
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"22\" font-size=\"15\">gan1d ensembles: wall time (blue) and ms per member-iteration (red) against K</text>\n", L - 40
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"blue\"/>\n", L, T, L, H - B
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"red\"/>\n", W - R, T, W - R, H - B
    for (i = 1; i <= n; i++) {
      x[i] = L + (log(k[i]) / log(10) - lk) / (hk - lk) * (W - L - R)
      ys[i] = H - B - (log(s[i]) / log(10) - ls) / (hs - ls) * (H - T - B)
      yp[i] = H - B - (log(p[i]) / log(10) - lp) / (hp - lp) * (H - T - B)
      printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x[i], H - B + 18, k[i]
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"blue\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"blue\">%.1f s</text>\n", x[i], ys[i], x[i] + 6, ys[i] - 6, s[i]
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"red\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"red\">%.3f</text>\n", x[i], yp[i], x[i] + 6, yp[i] + 14, p[i]
      if (i > 1) {
        printf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"blue\"/>\n", x[i-1], ys[i-1], x[i], ys[i]
        printf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"red\"/>\n", x[i-1], yp[i-1], x[i], yp[i]
      }
    }
    ysingle = H - B - (log(single) / log(10) - ls) / (hs - ls) * (H - T - B)
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"4 4\"/>\n", L, ysingle, W - R, ysingle
    printf "<text x=\"%d\" y=\"%.1f\" fill=\"gray\">one single run: %.1f s</text>\n", L + 6, ysingle - 6, single
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">K (members, log scale)</text>\n", W / 2, H - 12
    printf "</svg>\n"
  }' "$csv" >bench/ensemble_speed.svg
echo "wrote $csv and bench/ensemble_speed.svg" >&2
