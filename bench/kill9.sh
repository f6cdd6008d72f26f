#!/usr/bin/env bash
# Fault injection beyond the tests: ROUNDS (default 60) `kill -9` at random moments into runs
# that save a checkpoint after every iteration, alternating fresh runs over one folder and
# resumes of it. After each kill the folder must load, and resume (its logs must be the ones
# its checkpoint recorded, or their staged copies). Prints how many loaded and resumed, and
# how many kills landed inside a save (a temporary file, or tensor files no manifest names yet).
set -uo pipefail
cd "$(dirname "$0")/.."
G=target/release/gan1d
ROUNDS=${ROUNDS:-60}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run="$dir/run"
"$G" train --epochs 5 --out "$run" --quiet --device cpu >/dev/null 2>&1 || { echo "first run failed" >&2; exit 1; }
loaded=0; failed=0; inside=0; resumed=0
for i in $(seq 1 "$ROUNDS"); do
  if (( i % 3 == 0 )); then
    "$G" train --resume "$run" --epochs 100000000 --checkpoint-every 1 --quiet --device cpu >/dev/null 2>&1 &
  else
    "$G" train --seed "$i" --epochs 100000000 --checkpoint-every 1 --out "$run" --overwrite --quiet --device cpu >/dev/null 2>&1 &
  fi
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.6 + r / 32767 * 1.5 }')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  named=$(grep -o '"name": "[^"]*"' "$run/config.json" | cut -d'"' -f4)
  for f in $(ls -A "$run"); do
    case $f in
      *.tmp) inside=$((inside + 1)); break ;;
      *.ot) grep -qx "$f" <<<"$named" || { inside=$((inside + 1)); break; } ;;
    esac
  done
  if "$G" sample --checkpoint "$run" -n 2 >/dev/null 2>"$dir/err"; then
    loaded=$((loaded + 1))
  else
    failed=$((failed + 1)); cat "$dir/err"
  fi
  reached=$(grep -o '"iteration": [0-9]*' "$run/config.json" | head -1 | grep -o '[0-9]*$')
  if "$G" train --resume "$run" --epochs $((reached + 1)) --quiet --device cpu >/dev/null 2>"$dir/err"; then
    resumed=$((resumed + 1))
  else
    failed=$((failed + 1)); cat "$dir/err"
  fi
done
echo "kill -9: $ROUNDS kills, $loaded folders loaded, $resumed resumed, $failed failures, $inside kills inside a save"
(( failed == 0 ))
