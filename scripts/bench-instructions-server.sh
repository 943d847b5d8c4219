#!/usr/bin/env bash
# Instructions per request of a benchserver (server/internal/cmd/benchserver)
# process, counted by valgrind's callgrind: the whole process in user space
# (net/http, the handler, package server's stack, the Go runtime and its
# garbage collector), not the kernel. Unlike CPU time, the count hardly
# depends on what else the machine runs, so it ranks servers that differ by
# a few percent on a machine too noisy for scripts/bench-http.sh to.
#
#   scripts/bench-instructions-server.sh [N1=2000] [N2=12000] [REPEAT=1]
#
# MODES picks the servers (benchserver -mode names; default
# "bare bare-timeouts simple"). Each server is run twice, serving N1 and N2
# requests (GET /users/42 from server/internal/cmd/httpload, 8 keep-alive
# connections; for grpc-* modes unary Echo calls from grpcload, 8 callers on
# one connection), and the difference in instructions is divided by N2-N1 so
# that start-up and shutdown cancel out. REPEAT repeats the whole
# measurement; every line is printed. A mode written old:MODE runs from
# OLD_BENCHSERVER, as in scripts/bench-http.sh. Needs valgrind (apt-get
# install -y valgrind). GODEBUG=asyncpreemptoff=1 is set because callgrind
# cannot follow Go's preemption signals; the servers are stopped through
# their control port rather than a signal for the same reason. Under
# callgrind the threads run one at a time.
set -euo pipefail

N1=${1:-2000}
N2=${2:-12000}
REPEAT=${3:-1}
read -r -a MODES <<<"${MODES:-bare bare-timeouts simple}"

cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
	echo "valgrind not found: apt-get install -y valgrind" >&2
	exit 1
}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
go build -o "$DIR/benchserver" ./server/internal/cmd/benchserver
go build -o "$DIR/httpload" ./server/internal/cmd/httpload
go build -o "$DIR/grpcload" ./server/internal/cmd/grpcload

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

# count MODE N -> instructions of a server process that served N requests;
# a second try if the first fails to start (a port taken meanwhile).
count() { count1 "$@" || count1 "$@"; }

count1() {
	local bin=$DIR/benchserver mode=$1 port ctl pid
	if [[ "$mode" == old:* ]]; then
		bin=${OLD_BENCHSERVER:?old: modes need OLD_BENCHSERVER} mode=${mode#old:}
	fi
	port=$(free_port)
	ctl=$(free_port)
	while [[ "$ctl" == "$port" ]]; do ctl=$(free_port); done
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -mode "$mode" -port "$port" -ctl-port "$ctl" 2>"$DIR/vg.err" &
	pid=$!
	for p in "$ctl" "$port"; do
		for _ in $(seq 600); do
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "benchserver -mode $mode exited:" >&2
				grep -v '^==' "$DIR/vg.err" >&2
				return 1
			fi
			sleep 0.1
		done
	done
	if [[ "$mode" == grpc-* ]]; then
		"$DIR/grpcload" -addr "127.0.0.1:$port" -conns 1 -callers 8 -n "$2" >/dev/null
	else
		"$DIR/httpload" -url "http://127.0.0.1:$port/users/42" -n "$2" -c 8
	fi
	curl -fsS "http://127.0.0.1:$ctl/quit" >/dev/null
	wait "$pid"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$DIR/vg.err"
}

echo "instructions per request, (count(N2) - count(N1)) / (N2 - N1), N1=$N1 N2=$N2:"
for rep in $(seq "$REPEAT"); do
	line="$rep:"
	for m in "${MODES[@]}"; do
		a=$(count "$m" "$N1")
		b=$(count "$m" "$N2")
		line+=" $m $(((b - a) / (N2 - N1)))"
	done
	echo "$line"
done
