#!/usr/bin/env bash
# Load-test SimpleServer (default middleware) against a bare net/http handler
# serving the same JSON, with wrk on 127.0.0.1, alternating the servers in
# one session. Three more servers separate the costs: "simplemux" is
# SimpleServer with its route table dropped (every request matched by
# mux.Router.Match), "limits" the bare handler on an http.Server with
# SimpleServer's default timeouts and header limit, "mux" the bare handler
# behind a plain gorilla/mux router.
#
# For each round it prints requests/sec and the server's CPU time per
# request (utime+stime of the server process from /proc, divided by the
# requests wrk completed); then medians and the ratios to bare. On a shared,
# noisy machine req/s swings with whatever else runs; CPU per request is
# much steadier, and bare_cpu/other_cpu is the throughput ratio the two
# would have on a dedicated core.
#
#   scripts/bench-http.sh [rounds=3] [duration=10s] [connections=32] [extra benchserver flags for simple, e.g. -log]
#
# MODES (default "bare simple simplemux limits mux") picks the servers; bare must be
# first. With PIN=1 (and taskset available) the servers run on CPU 1 and
# wrk on CPU 0.
set -euo pipefail

ROUNDS=${1:-3}
DURATION=${2:-10s}
CONNS=${3:-32}
SIMPLE_FLAGS=${4:-}
read -r -a MODES <<<"${MODES:-bare simple simplemux limits mux}"

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
	echo "wrk not found: apt-get install -y wrk" >&2
	exit 1
fi
if [[ "${MODES[0]}" != bare ]]; then
	echo "MODES must start with bare" >&2
	exit 2
fi

BIN=$(mktemp -d)/benchserver
go build -o "$BIN" ./server/internal/cmd/benchserver

SRV_PIN=()
WRK_PIN=()
if [[ "${PIN:-0}" == 1 ]] && command -v taskset >/dev/null; then
	SRV_PIN=(taskset -c 1)
	WRK_PIN=(taskset -c 0)
fi

PIDS=()
PORTS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for i in "${!MODES[@]}"; do
	port=$(free_port)
	flags=()
	if [[ "${MODES[$i]}" == simple && -n "$SIMPLE_FLAGS" ]]; then
		read -r -a flags <<<"$SIMPLE_FLAGS"
	fi
	"${SRV_PIN[@]}" "$BIN" -mode "${MODES[$i]}" -port "$port" "${flags[@]}" &
	PIDS+=($!)
	PORTS+=("$port")
done

for port in "${PORTS[@]}"; do
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

# Warm up every server.
for port in "${PORTS[@]}"; do
	wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$port/users/42" >/dev/null
done

# Each round runs every server once, starting with a different one each
# round so that no server always follows the same neighbour. The per-round
# ratio to bare pairs runs taken seconds apart.
declare -A RPS CPU RR CR
N=${#MODES[@]}
for r in $(seq "$ROUNDS"); do
	declare -A rps_r cpu_r
	for k in $(seq 0 $((N - 1))); do
		i=$(((k + r) % N))
		read -r rps cpu < <(run "http://127.0.0.1:${PORTS[$i]}/users/42" "${PIDS[$i]}")
		rps_r[$i]=$rps cpu_r[$i]=$cpu
	done
	line="round $r:"
	for i in "${!MODES[@]}"; do
		RPS[$i]+="${rps_r[$i]} " CPU[$i]+="${cpu_r[$i]} "
		RR[$i]+="$(awk -v a="${rps_r[$i]}" -v b="${rps_r[0]}" 'BEGIN {print a/b}') "
		CR[$i]+="$(awk -v a="${cpu_r[0]}" -v b="${cpu_r[$i]}" 'BEGIN {print a/b}') "
		line+=" ${MODES[$i]} ${rps_r[$i]} req/s ${cpu_r[$i]}us CPU/req |"
	done
	echo "${line% |}"
done

# shellcheck disable=SC2086
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v n="$1" -v d="$2" 'BEGIN {printf "%.3f", n/d}'; }
BR=$(median "${RPS[0]}") BC=$(median "${CPU[0]}")
printf '%-8s %12s %14s %12s %12s %12s %12s\n' server "median req/s" "median CPU/req" "req/s ratio" "CPU ratio" "paired req/s" "paired CPU"
for i in "${!MODES[@]}"; do
	mr=$(median "${RPS[$i]}") mc=$(median "${CPU[$i]}")
	printf '%-8s %12s %12sus %12s %12s %12.3f %12.3f\n' "${MODES[$i]}" "$mr" "$mc" "$(ratio "$mr" "$BR")" "$(ratio "$BC" "$mc")" "$(median "${RR[$i]}")" "$(median "${CR[$i]}")"
done
echo "(req/s ratio = median req/s / bare's; CPU ratio = bare's median CPU per request / this server's;"
echo " paired = median over rounds of the same ratios taken within one round)"
