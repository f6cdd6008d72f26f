# Shared by the benchmark scripts (sourced, from the repository's root): the binary, the
# anchors, a scratch folder removed on exit, and two helpers.
BIN=${BIN:-target/release/gan1d}
ALL=$(nproc)
ANCHORS=${ANCHORS:-../shared/anchors}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Seconds since the epoch, to the nanosecond.
now() { date +%s.%N; }
# Runs a command pinned to the first core, where taskset exists.
one_core() { if command -v taskset >/dev/null; then taskset -c 0 "$@"; else "$@"; fi; }
