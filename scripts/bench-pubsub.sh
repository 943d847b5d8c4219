#!/usr/bin/env bash
# Paired before/after benchmark of the consumer runner (pubsub.Consume) and
# the in-memory broker: builds the benchmark binaries of a base revision and
# of the working tree, then runs them alternately, round after round, so
# that machine noise hits both alike. Prints benchstat's comparison.
#
#   scripts/bench-pubsub.sh [base-rev=HEAD] [rounds=8]
#
# The base revision is checked out into a temporary git worktree. The
# in-memory broker lived in pubsub/pubsubtest before it became pubsub/mem;
# the script finds it in either place. Results go to $OUT (default
# /tmp/gizmo-bench-pubsub).
set -euo pipefail

BASE=${1:-HEAD}
ROUNDS=${2:-8}
OUT=${OUT:-/tmp/gizmo-bench-pubsub}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt
wt="$(mktemp -d)"
trap 'git -C "$ROOT" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"' EXIT
git worktree add --detach "$wt" "$BASE" >/dev/null

broker_pkg() { # the package holding BenchmarkBrokerThroughput in tree $1
	if [[ -d "$1/pubsub/mem" ]]; then echo ./pubsub/mem/; else echo ./pubsub/pubsubtest/; fi
}
for side in old new; do
	dir="$wt"
	[[ $side == new ]] && dir="$ROOT"
	(cd "$dir" && go test -c -o "$OUT/consume-$side.test" ./pubsub/ &&
		go test -c -o "$OUT/broker-$side.test" "$(broker_pkg "$dir")")
done

echo "base $(git -C "$wt" rev-parse --short HEAD) vs working tree; $ROUNDS rounds; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	order=(old new)
	((r % 2 == 0)) && order=(new old)
	for side in "${order[@]}"; do
		"$OUT/consume-$side.test" -test.run '^$' -test.bench 'Consume|BareLoop' \
			-test.benchtime 1000000x -test.benchmem >>"$OUT/consume-$side.txt"
		"$OUT/broker-$side.test" -test.run '^$' -test.bench 'BrokerThroughput' \
			-test.benchmem >>"$OUT/broker-$side.txt"
	done
	echo "round $r done"
done
bs() { go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$@"; }
bs "$OUT/consume-old.txt" "$OUT/consume-new.txt"
bs "$OUT/broker-old.txt" "$OUT/broker-new.txt"
