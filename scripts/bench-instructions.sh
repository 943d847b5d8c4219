#!/usr/bin/env bash
# Instructions per benchmark op, counted by valgrind's callgrind: steady
# whatever else the machine runs, unlike wall time. It runs the benchmark
# twice, with N1 and N2 ops, and divides the difference in instructions by
# N2-N1, so that start-up and set-up cancel out.
#
#   scripts/bench-instructions.sh TEST-BINARY BENCH-REGEXP [N1=100000] [N2=300000]
#
# Build the binary with `go test -c`. Needs valgrind (apt-get install -y
# valgrind). GODEBUG=asyncpreemptoff=1 is set because callgrind cannot
# follow Go's preemption signals. Under callgrind the threads run one at a
# time: the count says how much work an op costs, not how it scales.
set -euo pipefail
bin=$1 bench=$2 n1=${3:-100000} n2=${4:-300000}
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
count() {
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "${1}x" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count "$n1")
b=$(count "$n2")
echo $(((b - a) / (n2 - n1)))
