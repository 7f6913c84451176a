#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Where the time goes when ./tcpaccept traces an accept() flood: cheap
# measurements, each printed with the command that made it. Root; about 40 s.
#
#   bench/profile.sh [SECONDS] [CLIENTS]     (defaults 3 and 4; rst mode, IPv4)
#
# 1. untraced flood rate;
# 2. the same with a trivial BPF program on sys_exit_accept4 (bpftrace
#    count()): the floor cost of the tracepoint way in (an enabled syscall
#    tracepoint sends every syscall of every task through the slow path);
# 3. tcpaccept: its CPU time, context switches and page faults (perf stat -p)
#    and its voluntary context switches (wakeups) from /proc;
# 4. tcpaccept's syscalls (strace -c -f -p; strace slows what it traces);
# 5. BPF run time per event (kernel.bpf_stats_enabled) of tcpaccept's
#    programs, of bpftrace's (bench/tcpaccept.bt), and of every other program
#    named like tcpaccept's that someone else left attached;
# 6. what an enabled syscall tracepoint adds to every other syscall on the
#    machine: perf bench syscall basic (getppid) without and with tcpaccept.
set -euo pipefail
cd "$(dirname "$0")/.."

D=${1:-3}
C=${2:-4}
FLOOD=.output/bench/flood
BT=bench/tcpaccept.bt

[ "$(id -u)" = 0 ] || { echo "profile: needs root" >&2; exit 1; }
[ -x ./tcpaccept ] || { echo "profile: ./tcpaccept is missing; run make" >&2; exit 1; }
mkdir -p .output/bench
if [ ! -x $FLOOD ] || [ bench/flood.c -nt $FLOOD ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -static -pthread -o $FLOOD bench/flood.c
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing

W=$(mktemp -d /dev/shm/tcpaccept-prof.XXXXXX 2>/dev/null || mktemp -d)
# A private copy: ./tcpaccept may be rebuilt meanwhile.
T=$W/tcpaccept
cp ./tcpaccept "$T"
TPID=
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	if [ -n "$TPID" ] && kill -0 "$TPID" 2>/dev/null; then
		kill -INT "$TPID"
		wait "$TPID" || true
	fi
	sysctl -q -w kernel.bpf_stats_enabled="$STATS0" || true
	rm -rf "$W"
}
trap cleanup EXIT

# start_tracer CMD...: runs CMD > $W/t.out 2> $W/t.err, waits for its header.
start_tracer() {
	"$@" > "$W/t.out" 2> "$W/t.err" &
	TPID=$!
	for _ in $(seq 3000); do
		grep -q '^PID' "$W/t.out" 2>/dev/null && return 0
		kill -0 "$TPID" 2>/dev/null || { cat "$W/t.err" >&2; exit 1; }
		sleep 0.01
	done
	echo "profile: $1 did not attach" >&2
	exit 1
}
stop_tracer() {
	kill -INT "$TPID"
	wait "$TPID" || true
	TPID=
}
flood() { $FLOOD -m rst -4 -d "$D" -c "$C" "$@"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p"; }
ctxsw() { awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2} END {print v, n}' "/proc/$1/status"; }

echo "profile: commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ./tcpaccept sha256 $(sha256sum "$T" | cut -c1-12)..., kernel $(uname -r), $(nproc) CPUs, flood -m rst -4 -d $D -c $C"
others=$(pgrep -x tcpaccept | wc -l || true)
[ "$others" -gt 0 ] && echo "note: $others other tcpaccept process(es) already running; their BPF programs run on every accept too (see 5)"

echo
echo "== 1. untraced: $FLOOD -m rst -4 -d $D -c $C"
flood

echo
echo "== 2. tracepoint floor: bpftrace -e 'tracepoint:syscalls:sys_exit_accept4 { @n = count(); }' (a trivial BPF program)"
if command -v bpftrace >/dev/null; then
	start_tracer bpftrace -e 'BEGIN { printf("PID\n"); } tracepoint:syscalls:sys_exit_accept4 { @n = count(); }'
	flood
	stop_tracer
	grep '^@n' "$W/t.out" | sed 's/^/  bpftrace: /' || true
else
	echo "  bpftrace: not installed"
fi

echo
echo "== 3. tcpaccept > file: perf stat -p TRACER -e task-clock,context-switches,cpu-migrations,page-faults; /proc/TRACER/status"
start_tracer "$T"
read -r v0 n0 < <(ctxsw "$TPID")
perf stat -x, -o "$W/perf3" -p "$TPID" -e task-clock,context-switches,cpu-migrations,page-faults -- sleep "$(echo "$D + 0.5" | bc)" &
PERF=$!
out=$(flood)
wait $PERF || true
read -r v1 n1 < <(ctxsw "$TPID")
echo "$out"
acc=$(echo "$out" | field accepts)
sec=$(echo "$out" | field seconds)
grep -v '^#' "$W/perf3" | grep . | sed 's/^/  perf: /'
tc=$(awk -F, '$3=="task-clock" {print $1}' "$W/perf3")
echo "  tracer CPU: ${tc:-?} ms for $acc accepts = $(awk -v t="${tc:-0}" -v a="$acc" 'BEGIN {printf "%.2f", a ? t * 1e6 / a : 0}') ns per accept"
echo "  tracer wakeups (voluntary context switches): $((v1 - v0)) in ~$(echo "$D + 0.3" | bc) s = $(awk -v w=$((v1 - v0)) -v s="$sec" 'BEGIN {printf "%.1f", w / (s + 0.3)}')/s; involuntary: $((n1 - n0))"
grep -E 'VmRSS|VmHWM' "/proc/$TPID/status" | sed 's/^/  /'
stop_tracer
grep -c . "$W/t.out" | awk '{print "  lines written: " $1 - 1}'
grep -i lost "$W/t.err" | sed 's/^/  /' || true

echo
echo "== 4. tcpaccept > file: strace -c -f -p TRACER during the flood"
start_tracer "$T"
strace -c -f -p "$TPID" -o "$W/strace" &
STRACE=$!
sleep 0.3
out=$(flood)
sleep 0.3
kill -INT $STRACE
wait $STRACE || true
echo "$out"
acc=$(echo "$out" | field accepts)
sec=$(echo "$out" | field seconds)
sed 's/^/  /' "$W/strace"
awk -v a="$acc" -v s="$sec" '$NF=="epoll_wait" || $NF=="write" {printf "  %s: %d calls, %.1f/s, %.0f accepts per call\n", $NF, $4, $4 / (s + 0.6), $4 ? a / $4 : 0}' "$W/strace"
stop_tracer

echo
echo "== 5. BPF run time per event: sysctl kernel.bpf_stats_enabled=1; run_time_ns / run_cnt from bpftool prog show"
# prog_ids_of PID: the ids of the BPF programs that PID holds open.
prog_ids_of() {
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
		awk '/^prog_id:/ {print $2}' "/proc/$1/fdinfo/${fd##*/}"
	done
}
# prog_stats IDS...: name run_cnt run_time_ns, one line per program
prog_stats() {
	for id in "$@"; do
		(bpftool prog show id "$id" 2>/dev/null || true) | awk -v id="$id" '
			NR == 1 { name = $4 }
			{ for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) } }
			END { print id, name, c + 0, t + 0 }'
	done
}
for who in tcpaccept bpftrace; do
	if [ $who = tcpaccept ]; then
		start_tracer "$T"
	else
		command -v bpftrace >/dev/null || { echo "  bpftrace: not installed"; continue; }
		start_tracer bpftrace $BT
	fi
	mine=$( (prog_ids_of "$TPID" || true) | sort -n | tr '\n' ' ')
	# Programs of everyone else hooked on the same tracepoints (same names).
	# (Other people's programs come and go: bpftool may fail on one that
	# vanished while it listed them.)
	others=$( (bpftool prog show 2>/dev/null || true) | awk -F'[: ]+' '/^[0-9]+: tracepoint/ && / name (tp_exit_accept|tp_enter_accept|tp_io_uring)/ {print $1}' | sort -n | tr '\n' ' ')
	sysctl -q -w kernel.bpf_stats_enabled=1
	ids=$(echo $mine $others | tr ' ' '\n' | sort -un)
	prog_stats $ids > "$W/before"
	out=$(flood)
	prog_stats $ids > "$W/after"
	sysctl -q -w kernel.bpf_stats_enabled="$STATS0"
	stop_tracer
	echo "  $who: $out"
	acc=$(echo "$out" | field accepts)
	awk -v mine=" $mine" -v a="$acc" '
		NR == FNR { c0[$1] = $3; t0[$1] = $4; next }
		{ cnt = $3 - c0[$1]; ns = $4 - t0[$1]; if (cnt <= 0) next
		  if (index(mine, " " $1 " ")) {
			printf "    %-16s id %-6s %9d runs %8.0f ns/run\n", $2, $1, cnt, ns / cnt
			my += ns; if (cnt > runs) runs = cnt
		  } else { on += ns; oc += cnt; n++ } }
		END { # Every accept on the machine (the flood'"'"'s and others'"'"') runs
		      # each program once: per accept = total / the most runs.
		      printf "    its programs: %.0f ns per accept (%d accepts on the machine, %d of them the flood'"'"'s)\n", runs ? my / runs : 0, runs, a
		      if (n) printf "    %d programs of other processes ran %d times: %.0f ns per accept on top\n", n, oc, runs ? on / runs : 0 }' \
		"$W/before" "$W/after"
done

echo
echo "== 6. cost added to every syscall of every task: perf bench syscall basic --loop 3000000 (getppid), 3 times each, alternating"
pgrep -x tcpaccept >/dev/null && echo "  (other tcpaccept processes are running: 'without' has their tracepoints on too)"
bench_ns() { perf bench syscall basic --loop 3000000 2>/dev/null | awk '/usecs\/op/ {printf "%.1f", $1 * 1000}'; }
without=() with=()
for _ in 1 2 3; do
	without+=("$(bench_ns)")
	start_tracer "$T"
	with+=("$(bench_ns)")
	stop_tracer
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
echo "  without tcpaccept: ${without[*]} ns per getppid(); median $(median "${without[@]}")"
echo "  with tcpaccept:    ${with[*]} ns per getppid(); median $(median "${with[@]}")"
