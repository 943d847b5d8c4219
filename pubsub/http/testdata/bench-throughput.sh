#!/usr/bin/env bash
# Alternating rounds of BenchmarkThroughput: in each round, for 1, 16 and
# 64 publishers, the bare net/http pair and the gizmo publisher/subscriber
# run back to back, the first of the two swapping every round. Prints the
# raw benchmark lines (for benchstat), then per publisher count the median
# msgs/s of each, their ratio, the median of the per-round ratio
# gizmo/bare, the median CPU µs per message of each, and the median of the
# per-round CPU ratio gizmo/bare.
#
# Usage: pubsub/http/testdata/bench-throughput.sh [ROUNDS] [MSGS_PER_RUN] > out.txt
# Short runs and many rounds pair better on a shared machine: conditions
# drift less between the two halves of a pair.
set -euo pipefail
rounds="${1:-41}"
n="${2:-5000}"
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(mktemp -d)/http.test"
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$dir" && go test -c -o "$bin" .)
raw="$(mktemp)"
for ((r = 1; r <= rounds; r++)); do
  for pubs in 1 16 64; do
    if ((r % 2)); then order="bare gizmo"; else order="gizmo bare"; fi
    for impl in $order; do
      "$bin" -test.run '^$' -test.bench "^BenchmarkThroughput\$/^pubs=$pubs\$/^impl=$impl\$" \
        -test.benchtime "${n}x" -test.count 1 | grep '^Benchmark' | sed "s/\$/ round=$r/" | tee -a "$raw" | sed 's/ round=[0-9]*$//'
    done
  done
done >&2
cat "$raw" | sed 's/ round=[0-9]*$//'
echo
awk '
  { match($1, /pubs=[0-9]+/); p = substr($1, RSTART + 5, RLENGTH - 5)
    impl = ($1 ~ /impl=bare/) ? "bare" : "gizmo"
    for (i = 1; i <= NF; i++) {
      if ($(i) == "msgs/s") v = $(i - 1)
      if ($(i) == "cpu-µs/msg") c = $(i - 1)
    }
    r = $NF; sub(/round=/, "", r)
    val[p, impl, r] = v; cpu[p, impl, r] = c; pubs[p] = 1; rounds[r] = 1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END {
    printf "%-5s %11s %11s %6s %7s %9s %9s %7s %6s\n", "pubs", "bare msg/s", "gizmo msg/s", "ratio", "paired", "bare cpu", "gizmo cpu", "cpu x", "rounds"
    for (p in pubs) {
      nb = ng = nr = 0; delete b; delete g; delete q; delete cb; delete cg; delete cq
      for (r in rounds) {
        if (!((p, "bare", r) in val) || !((p, "gizmo", r) in val)) continue
        nr++
        b[nr] = val[p, "bare", r]; g[nr] = val[p, "gizmo", r]; q[nr] = g[nr] / b[nr]
        cb[nr] = cpu[p, "bare", r]; cg[nr] = cpu[p, "gizmo", r]; cq[nr] = cg[nr] / cb[nr]
      }
      mb = median(b, nr); mg = median(g, nr)
      printf "%-5s %11.0f %11.0f %6.2f %7.2f %9.1f %9.1f %7.2f %6d\n", p, mb, mg, mg / mb, median(q, nr), median(cb, nr), median(cg, nr), median(cq, nr), nr
    }
  }' "$raw" | sort -n
rm -f "$raw"
