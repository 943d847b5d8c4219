#!/usr/bin/env bash
# bench.sh runs the Kafka adapter's benchmarks against raw sarama in
# alternating rounds on the broker scripts/testenv started, and prints the
# medians and the paired ratios (gizmo over sarama within each round) that
# docs/benchmarks.md quotes.
#
#   pubsub/kafka/testdata/bench.sh [ROUNDS] [OUTDIR]
#
# Each round runs every benchmark once; odd rounds run the implementations
# in reverse order (GIZMO_BENCH_REVERSE), so that neither side always goes
# first. Publish benchmarks run for 2s each; consume ones move 100,000
# records each. The raw output is OUTDIR/all.txt, for benchstat;
# SUMMARY_ONLY=1 summarises an earlier run's OUTDIR/all.txt again.
set -euo pipefail
rounds="${1:-10}"
out="${2:-/tmp/gizmo-kafka-bench}"
cd "$(dirname "$0")/.."
mkdir -p "$out"
if [[ "${SUMMARY_ONLY:-}" != 1 ]]; then
go test -c -o "$out/kafka.test" .
: >"$out/all.txt"
for ((i = 1; i <= rounds; i++)); do
  rev=$((i % 2))
  echo "round $i (reverse=$rev); load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  GIZMO_BENCH_REVERSE=$rev "$out/kafka.test" -test.run '^$' -test.bench 'BenchmarkConsume' \
    -test.benchtime 100000x -test.count 1 -test.benchmem | grep '^Benchmark' | sed "s/\$/ round=$i/" | tee -a "$out/all.txt" >&2
  GIZMO_BENCH_REVERSE=$rev "$out/kafka.test" -test.run '^$' -test.bench 'BenchmarkPublish' \
    -test.benchtime 2s -test.count 1 -test.benchmem | grep '^Benchmark' | sed "s/\$/ round=$i/" | tee -a "$out/all.txt" >&2
done
fi
# Medians of msgs/s per benchmark, and of the per-round ratios to sarama.
awk '
  {
    name = $1; sub(/-[0-9]+$/, "", name)
    for (f = 1; f <= NF; f++) if ($(f+1) == "msgs/s") v = $f
    r = $NF; sub(/round=/, "", r)
    split(name, p, "/impl=")
    val[p[1], p[2], r] = v; impls[p[2]] = 1; groups[p[1]] = 1; rounds[r] = 1
    all[name] = all[name] " " v
  }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    for (k in all) printf "median msgs/s      %-58s %8.0f\n", k, median(all[k])
    for (g in groups) for (i in impls) {
      if (i == "sarama") continue
      s = ""; base = "sarama"
      if (i == "gizmo-batched") base = "gizmo"
      for (r in rounds) if (((g, i, r) in val) && ((g, base, r) in val)) s = s " " val[g, i, r] / val[g, base, r]
      if (s != "") printf "median paired ratio %-44s %-15s / %-7s %6.3f (%d rounds)\n", g, i, base, median(s), split(s, tmp, " ")
    }
  }' "$out/all.txt" | sort
