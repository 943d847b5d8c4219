#!/usr/bin/env bash
# Load-test servers built by server/internal/cmd/benchserver side by side and
# report each one's own CPU time per request, and its ratio to baselines.
#
#   scripts/bench-http.sh [rounds=31] [duration=5s] [connections=32]
#
# MODES picks the servers (benchserver -mode names; default
# "bare bare bare-timeouts simple"). A mode may appear twice: the second
# copy is a separate, identical process, which makes the A/A control ("bare
# bare" compares two identical bare servers). HTTP modes are loaded with wrk
# (GET /users/42, keep-alive, CONNS connections); grpc-* modes with grpcload
# (unary Echo calls; GRPC_CONNS connections of GRPC_CALLERS callers each).
#
# BASES lists the baselines (default: the first mode); every server's ratio
# is taken against each, "base ÷ this" of CPU per request, so 1.0 means no
# overhead and 0.90 means 11% more CPU per request. A server repeated in
# MODES is compared with its first copy.
#
# Method. All servers run for the whole session. Each round runs every
# server once for DURATION, in a rotated order (round r starts with server
# r mod N), so that no server always follows the same neighbour and slow
# drifts of the machine hit all of them alike. Around each run the script
# reads the server's CPU time (getrusage user+system, in ns, from
# benchserver's -ctl-port endpoint) and divides by the requests completed.
# Ratios are paired: taken within a round, then summarised over the rounds
# as min / median / max. With PIN=1 (the default when taskset exists and
# there are at least 2 CPUs) the servers run on CPU 1 (so GOMAXPROCS=1)
# and the load generator on CPU 0. The load average is printed at the start,
# after every round and at the end.
#
# A mode written old:MODE runs MODE from the benchserver binary named by
# OLD_BENCHSERVER (for example one built from an earlier commit, with this
# commit's server/internal/cmd/benchserver copied in), for before/after runs.
#
# RAW=file also writes one line per run: round mode index req/s cpu_ns/req.
set -euo pipefail

ROUNDS=${1:-31}
DURATION=${2:-5s}
CONNS=${3:-32}
read -r -a MODES <<<"${MODES:-bare bare bare-timeouts simple}"
read -r -a BASES <<<"${BASES:-${MODES[0]}}"
GRPC_CONNS=${GRPC_CONNS:-2}
GRPC_CALLERS=${GRPC_CALLERS:-16}
RAW=${RAW:-/dev/null}

cd "$(dirname "$0")/.."
for tool in wrk curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "$tool not found (apt-get install -y $tool)" >&2
		exit 1
	fi
done

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now and
# that this script has not handed out before (in TAKEN).
TAKEN=" "
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if [[ "$TAKEN" != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

DIR=$(mktemp -d)
go build -o "$DIR/benchserver" ./server/internal/cmd/benchserver
go build -o "$DIR/grpcload" ./server/internal/cmd/grpcload

PIN=${PIN:-auto}
if [[ "$PIN" == auto ]]; then
	PIN=0
	if command -v taskset >/dev/null && (($(nproc) >= 2)); then PIN=1; fi
fi
SRV_PIN=()
LOAD_PIN=()
if [[ "$PIN" == 1 ]]; then
	SRV_PIN=(taskset -c 1)
	LOAD_PIN=(taskset -c 0)
fi
WRK_THREADS=${WRK_THREADS:-$((PIN == 1 ? 1 : 2))}

PIDS=()
PORTS=()
CTLS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
for i in "${!MODES[@]}"; do
	port=$(free_port)
	TAKEN+="$port "
	ctl=$(free_port)
	TAKEN+="$ctl "
	bin=$DIR/benchserver mode=${MODES[$i]}
	if [[ "$mode" == old:* ]]; then
		bin=${OLD_BENCHSERVER:?old: modes need OLD_BENCHSERVER} mode=${mode#old:}
	fi
	"${SRV_PIN[@]}" "$bin" -mode "$mode" -port "$port" -ctl-port "$ctl" &
	PIDS+=($!)
	PORTS+=("$port")
	CTLS+=("$ctl")
done
for i in "${!MODES[@]}"; do # wait until both ports accept connections
	for port in "${CTLS[$i]}" "${PORTS[$i]}"; do
		for _ in $(seq 100); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
			sleep 0.1
		done
	done
done

cpu_ns() { curl -fsS "http://127.0.0.1:$1/cpu"; }

# load I DURATION -> number of requests completed
load() {
	local mode=${MODES[$1]} port=${PORTS[$1]}
	if [[ "${mode#old:}" == grpc-* ]]; then
		"${LOAD_PIN[@]}" "$DIR/grpcload" -addr "127.0.0.1:$port" -conns "$GRPC_CONNS" -callers "$GRPC_CALLERS" -d "$2" | awk '{print $1}'
	else
		"${LOAD_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$2" "http://127.0.0.1:$port/users/42" |
			awk '/requests in/ {n = $1} /Non-2xx/ {bad = 1} END {if (bad) n = -1; print n}'
	fi
}

# run I -> "req/s cpu_ns_per_request allocs_per_request"
run() {
	local before after n secs
	before=$(cpu_ns "${CTLS[$1]}")
	secs=$(date +%s.%N)
	n=$(load "$1" "$DURATION")
	secs=$(awk -v a="$secs" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
	after=$(cpu_ns "${CTLS[$1]}")
	if ((n <= 0)); then
		echo "${MODES[$1]}: no successful requests" >&2
		exit 1
	fi
	awk -v n="$n" -v s="$secs" -v b="$before" -v a="$after" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		printf "%.0f %.1f %.2f\n", n / s, (y[1] - x[1]) / n, (y[2] - x[2]) / n}'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "servers: ${MODES[*]}; bases: ${BASES[*]}; $ROUNDS rounds of $DURATION; pinned: $PIN; $(nproc) CPUs; $(go version | cut -d' ' -f3)"
echo "load average at start: $(loadavg)"
for i in "${!MODES[@]}"; do # warm up
	load "$i" 2s >/dev/null
done

# base_of I B -> index of the server that server I is compared with for
# base name B: its first copy if I repeats B, else B's first copy.
first_index() {
	local j
	for j in "${!MODES[@]}"; do
		if [[ "${MODES[$j]}" == "$1" ]]; then
			echo "$j"
			return
		fi
	done
	echo "base $1 is not in MODES" >&2
	exit 2
}
declare -A RPS CPU RATIO ALLOCS
N=${#MODES[@]}
for r in $(seq "$ROUNDS"); do
	declare -A rps_r cpu_r
	for k in $(seq 0 $((N - 1))); do
		i=$(((k + r) % N))
		read -r rps cpu allocs < <(run "$i")
		rps_r[$i]=$rps cpu_r[$i]=$cpu
		ALLOCS[$i]+="$allocs "
		echo "$r ${MODES[$i]} $i $rps $cpu $allocs" >>"$RAW"
	done
	line="round $r ($(loadavg)):"
	for i in "${!MODES[@]}"; do
		RPS[$i]+="${rps_r[$i]} " CPU[$i]+="${cpu_r[$i]} "
		for b in "${BASES[@]}"; do
			j=$(first_index "$b")
			RATIO[$i,$b]+="$(awk -v a="${cpu_r[$j]}" -v b="${cpu_r[$i]}" 'BEGIN {print a / b}') "
		done
		line+=" ${MODES[$i]} ${rps_r[$i]}/s $(awk -v c="${cpu_r[$i]}" 'BEGIN {printf "%.2f", c / 1000}')us |"
	done
	echo "${line% |}"
done
echo "load average at end: $(loadavg)"

# stats "v1 v2 ..." -> "min median max"
stats() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f", a[1], m, a[NR]}'
}
echo
echo "Median req/s and heap allocations per request; CPU per request in µs and paired ratios"
echo "base ÷ server, each as min median max over $ROUNDS rounds:"
header=$(printf '%-26s %9s %7s %22s' server "req/s" "allocs" "µs CPU/req")
for b in "${BASES[@]}"; do header+=$(printf ' %26s' "vs $b"); done
echo "$header"
for i in "${!MODES[@]}"; do
	name=${MODES[$i]}
	if [[ "$(first_index "$name")" != "$i" ]]; then name+=" (copy)"; fi
	read -r _ mr _ <<<"$(stats "${RPS[$i]}")"
	read -r c1 c2 c3 <<<"$(stats "${CPU[$i]}")"
	read -r _ ma _ <<<"$(stats "${ALLOCS[$i]}")"
	row=$(printf '%-26s %9.0f %7.2f %6.2f %6.2f %6.2f' "$name" "$mr" "$ma" "$(awk -v c="$c1" 'BEGIN {print c / 1000}')" \
		"$(awk -v c="$c2" 'BEGIN {print c / 1000}')" "$(awk -v c="$c3" 'BEGIN {print c / 1000}')")
	for b in "${BASES[@]}"; do
		read -r r1 r2 r3 <<<"$(stats "${RATIO[$i,$b]}")"
		row+=$(printf '    %6.3f %6.3f %6.3f' "$r1" "$r2" "$r3")
	done
	echo "$row"
done
