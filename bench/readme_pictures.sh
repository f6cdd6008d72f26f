#!/usr/bin/env bash
# The README's pictures, redrawn:
#   docs/ring-tutorial.png, docs/ring-robust.png  one ring of 8 Gaussians learned from one seed
#       with the tutorial's settings and with --recipe robust: the final evaluation plot of
#       each (with `gan1d evaluate` of each printed);
#   docs/ensemble.png  an ensemble of 16 seeds of the tutorial after 10 000 iterations;
#   docs/serve.png     the page of `gan1d serve` with a robust ring run training beside two
#       finished runs (needs chromium; skipped without it).
# About 4 minutes on 2 cores.
#
#   make build && bench/readme_pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-1}
BIN=$PWD/target/release/gan1d
[ -x "$BIN" ] || { echo "build gan1d first: make build" >&2; exit 1; }
runs=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$runs"' EXIT

# The last evaluation's plot of a run folder: by number, as iter_159999 sorts before iter_79999.
last_plot() { ls "$1"/plots/"$2"_*.png | sort -V | tail -1; }

for recipe in tutorial robust; do
  start=$(date +%s.%N)
  "$BIN" train --target ring --recipe "$recipe" --seed "$SEED" --out "$runs/$recipe" --quiet >/dev/null
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  cp "$(last_plot "$runs/$recipe" iter)" "docs/ring-$recipe.png"
  echo "== --recipe $recipe, seed $SEED: $(printf '%.0f' "$seconds") s; docs/ring-$recipe.png"
  "$BIN" evaluate --checkpoint "$runs/$recipe" | grep -E "modes|high-quality|energy"
done

"$BIN" train --seeds 1..16 --out "$runs/ensemble" --quiet >/dev/null
cp "$(last_plot "$runs/ensemble" members)" docs/ensemble.png
echo "== an ensemble of 16: docs/ensemble.png"

if ! command -v chromium >/dev/null; then
  echo "== docs/serve.png not redrawn: no chromium"
  exit 0
fi
mkdir -p "$runs/served"
"$BIN" train --quiet --target ring --epochs 20000 --eval-every 5000 --seed 1 --out "$runs/served/ring-tutorial" >/dev/null
"$BIN" train --quiet --target ring --recipe robust --loss hinge --epochs 20000 --eval-every 5000 --seed 1 \
  --out "$runs/served/ring-hinge" >/dev/null
"$BIN" serve "$runs/served" --port 0 >"$runs/serve.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q 'http://' "$runs/serve.out" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$runs/serve.out")
token=${url##*=}
port=$(echo "$url" | sed -E 's|http://[^:]+:([0-9]+)/.*|\1|')
api() { curl -s -H "X-Gan1d-Token: $token" -H 'Content-Type: application/json' -d "$2" "localhost:$port/api/$1" >/dev/null; }
api start '{"name":"ring-robust","target":"ring","recipe":"robust","seeds":"1"}'
sleep "${WAIT:-45}"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1000 \
  --screenshot="$PWD/docs/serve.png" --virtual-time-budget=3000 "$url#0%3Aring-robust" 2>/dev/null
api "pause?id=0:ring-robust" '{}'
sleep 3
echo "== docs/serve.png"
