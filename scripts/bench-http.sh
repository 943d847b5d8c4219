#!/usr/bin/env bash
# Load-test SimpleServer (default middleware) against a bare net/http handler
# serving the same JSON, with wrk on 127.0.0.1, alternating the servers in
# one session. A third server, the same handler behind a plain gorilla/mux
# router, separates the router's cost from the middleware's. For each round it prints requests/sec and the server's CPU
# time per request (utime+stime of the server process from /proc, divided by
# the requests wrk completed); then medians and the simple/bare ratios.
#
# On a shared, noisy machine req/s swings with whatever else runs; CPU per
# request is much steadier, and bare_cpu/simple_cpu is the throughput ratio
# the two would have on a dedicated core.
#
#   scripts/bench-http.sh [rounds=3] [duration=10s] [connections=32] [extra benchserver flags for simple, e.g. -log]
#
# With PIN=1 (and taskset available) both servers run on CPU 1 and wrk on
# CPU 0.
set -euo pipefail

ROUNDS=${1:-3}
DURATION=${2:-10s}
CONNS=${3:-32}
SIMPLE_FLAGS=${4:-}
BARE_PORT=18180
SIMPLE_PORT=18181
MUX_PORT=18182

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
	echo "wrk not found: apt-get install -y wrk" >&2
	exit 1
fi

BIN=$(mktemp -d)/benchserver
go build -o "$BIN" ./server/internal/benchserver

SRV_PIN=()
WRK_PIN=()
if [[ "${PIN:-0}" == 1 ]] && command -v taskset >/dev/null; then
	SRV_PIN=(taskset -c 1)
	WRK_PIN=(taskset -c 0)
fi

"${SRV_PIN[@]}" "$BIN" -mode bare -port "$BARE_PORT" &
BARE_PID=$!
# shellcheck disable=SC2086
"${SRV_PIN[@]}" "$BIN" -mode simple -port "$SIMPLE_PORT" $SIMPLE_FLAGS &
SIMPLE_PID=$!
"${SRV_PIN[@]}" "$BIN" -mode mux -port "$MUX_PORT" &
MUX_PID=$!
trap 'kill "$BARE_PID" "$SIMPLE_PID" "$MUX_PID" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

for port in "$BARE_PORT" "$SIMPLE_PORT" "$MUX_PORT"; do
	for _ in $(seq 50); do
		curl -fsS "http://127.0.0.1:$port/users/42" >/dev/null 2>&1 && break
		sleep 0.1
	done
done

TICK=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run URL PID -> "req/s cpu_us_per_request"
run() {
	local before after out
	before=$(cputicks "$2")
	out=$("${WRK_PIN[@]}" wrk -t2 -c"$CONNS" -d"$DURATION" "$1")
	after=$(cputicks "$2")
	echo "$out" | awk -v b="$before" -v a="$after" -v t="$TICK" '
		/requests in/ {n = $1}
		/Requests\/sec/ {r = $2}
		END {printf "%s %.2f\n", r, (a - b) / t * 1e6 / n}'
}

# Warm up all three.
for port in "$BARE_PORT" "$SIMPLE_PORT" "$MUX_PORT"; do
	wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$port/users/42" >/dev/null
done

BR=() BC=() SR=() SC=() MR=() MC=()
for r in $(seq "$ROUNDS"); do
	read -r br bc < <(run "http://127.0.0.1:$BARE_PORT/users/42" "$BARE_PID")
	read -r sr sc < <(run "http://127.0.0.1:$SIMPLE_PORT/users/42" "$SIMPLE_PID")
	read -r mr mc < <(run "http://127.0.0.1:$MUX_PORT/users/42" "$MUX_PID")
	BR+=("$br") BC+=("$bc") SR+=("$sr") SC+=("$sc") MR+=("$mr") MC+=("$mc")
	echo "round $r: bare $br req/s ${bc}us CPU/req | simple $sr req/s ${sc}us CPU/req | mux $mr req/s ${mc}us CPU/req"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
MBR=$(median "${BR[@]}") MSR=$(median "${SR[@]}") MBC=$(median "${BC[@]}") MSC=$(median "${SC[@]}")
MMR=$(median "${MR[@]}") MMC=$(median "${MC[@]}")
ratio() { awk -v n="$1" -v d="$2" 'BEGIN {printf "%.3f", n/d}'; }
echo "median req/s: bare $MBR, simple $MSR, mux $MMR; simple/bare $(ratio "$MSR" "$MBR"), mux/bare $(ratio "$MMR" "$MBR")"
echo "median CPU/request: bare ${MBC}us, simple ${MSC}us, mux ${MMC}us; throughput ratio (bare CPU / simple CPU) $(ratio "$MBC" "$MSC"), (bare / mux) $(ratio "$MBC" "$MMC")"
