#!/usr/bin/env bash
# Alternating rounds of BenchmarkThroughput: in each round, for 1, 16 and
# 64 publishers, the bare net/http pair and the gizmo publisher/subscriber
# run back to back, the first of the two swapping every round. Prints the
# raw benchmark lines (for benchstat), then per publisher count the median
# msgs/s of each and the median of the per-round ratio gizmo/bare.
#
# Usage: pubsub/http/testdata/bench-throughput.sh [ROUNDS] [MSGS_PER_RUN] > out.txt
set -euo pipefail
rounds="${1:-15}"
n="${2:-20000}"
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(mktemp -d)/http.test"
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$dir" && go test -c -o "$bin" .)
raw="$(mktemp)"
for ((r = 1; r <= rounds; r++)); do
  for pubs in 1 16 64; do
    if ((r % 2)); then order="bare gizmo"; else order="gizmo bare"; fi
    for impl in $order; do
      "$bin" -test.run '^$' -test.bench "^BenchmarkThroughput/pubs=$pubs/impl=$impl\$" \
        -test.benchtime "${n}x" -test.count 1 | grep '^Benchmark' | sed "s/\$/ round=$r/" | tee -a "$raw" | sed 's/ round=[0-9]*$//'
    done
  done
done >&2
cat "$raw" | sed 's/ round=[0-9]*$//'
echo
awk '
  { match($1, /pubs=[0-9]+/); p = substr($1, RSTART + 5, RLENGTH - 5)
    impl = ($1 ~ /impl=bare/) ? "bare" : "gizmo"
    for (i = 1; i <= NF; i++) if ($(i) == "msgs/s") v = $(i - 1)
    r = $NF; sub(/round=/, "", r)
    val[p, impl, r] = v; pubs[p] = 1; rounds[r] = 1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END {
    printf "%-6s %12s %12s %8s %14s %6s\n", "pubs", "bare msgs/s", "gizmo msgs/s", "ratio", "paired ratio", "rounds"
    for (p in pubs) {
      nb = ng = nr = 0; delete b; delete g; delete q
      for (r in rounds) {
        if ((p, "bare", r) in val) b[++nb] = val[p, "bare", r]
        if ((p, "gizmo", r) in val) g[++ng] = val[p, "gizmo", r]
        if (((p, "bare", r) in val) && ((p, "gizmo", r) in val)) q[++nr] = val[p, "gizmo", r] / val[p, "bare", r]
      }
      mb = median(b, nb); mg = median(g, ng)
      printf "%-6s %12.0f %12.0f %8.2f %14.2f %6d\n", p, mb, mg, mg / mb, median(q, nr), nr
    }
  }' "$raw" | sort -n
rm -f "$raw"
