#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Runs inside a test VM (busybox sh): traces connections made by tcppeer with
# every way in listed in $BACKENDS and prints everything between @@@ markers;
# tests/vm/test_vm.py checks it on the host, field by field.
#
# A case:   @@@ CASE <backend> <name>
#           @@@ TRACER-OUT / @@@ TRACER-ERR / @@@ TRACER-RC <rc>
#           @@@ PEER <label>   (once per tcppeer run, its stdout follows)
#           @@@ END
set -u
W=/tmp/work
mkdir -p $W

# Waits up to $2 tenths of a second for file $1 to contain line prefix $3;
# gives up at once when process $4 (if given) has exited.
wait_for() {
	i=0
	while ! grep -q "^$3" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt "$2" ] && return 1
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -q "^$3" "$1" 2>/dev/null
			return
		fi
		sleep 0.1
	done
}

# Starts tcpaccept and waits until it is attached: -v's "way in" line on
# stderr comes after attach (-j and -c print no header).
tracer_start() { # args...
	: >$W/out
	: >$W/err
	tcpaccept "$@" >$W/out 2>$W/err &
	TRACER=$!
	# A tracer that exited (a way in this kernel refuses) shows in its rc.
	if ! wait_for $W/err 600 "tcpaccept: way in: " $TRACER && kill -0 $TRACER 2>/dev/null; then
		echo "@@@ NOTE tracer not attached within 60 s"
	fi
}

tracer_stop() {
	kill -INT $TRACER 2>/dev/null
	wait $TRACER
	rc=$?
	echo "@@@ TRACER-OUT"
	cat $W/out
	echo "@@@ TRACER-ERR"
	# libbpf's debug output (-v) only when something went wrong: the
	# serial console is slow.
	if [ $rc -eq 0 ]; then grep '^tcpaccept: ' $W/err; else cat $W/err; fi
	echo "@@@ TRACER-RC $rc"
}

peer() { # label, tcppeer args...
	label=$1
	shift
	tcppeer "$@" >$W/peer 2>$W/peer.err
	echo "@@@ PEER $label rc=$?"
	cat $W/peer $W/peer.err
}

# A tcppeer whose accepting threads block before it goes on: started with
# peer_blocked_start, released with peer_blocked_finish.
peer_blocked_start() { # args...
	rm -f $W/go
	mkfifo $W/go
	exec 3<>$W/go
	tcppeer --block-first "$@" <$W/go >$W/bpeer 2>$W/bpeer.err &
	BPEER=$!
	wait_for $W/bpeer 300 READY || echo "@@@ NOTE blocked peer not READY"
}

peer_blocked_finish() { # label
	echo go >&3
	wait $BPEER
	echo "@@@ PEER $1 rc=$?"
	cat $W/bpeer $W/bpeer.err
	exec 3>&-
}

# For -C: a cgroup v2 hierarchy with one child to trace.
mkdir -p /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup || echo "@@@ NOTE cannot mount cgroup2"
mkdir -p /sys/fs/cgroup/traced

for b in $BACKENDS; do
	echo "@@@ CASE $b fields"
	tracer_start --backend="$b" -v
	echo "@@@ CAPEFF $(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$TRACER/status)"
	peer ipv4 --family 4 --count 3
	peer ipv6-accept4 --family 6 --count 3 --accept4
	peer mapped --family mapped --count 2
	peer rst --rst --count 16
	peer unix --unix --count 2
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b blocked-before-start"
	peer_blocked_start --count 1 --comm early-bird
	tracer_start --backend="$b" -v
	peer_blocked_finish blocked
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b json-queue-io_uring"
	tracer_start --backend="$b" -v -j -q
	peer hostile --count 2 --rst --delay-accept 100 --comm '\x1b[2J\n fake 1.2.3.4'
	peer io_uring --io-uring --count 2 --comm uring-srv
	peer nobody --uid 65534 --count 1 --family 6
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b count"
	tracer_start --backend="$b" -v -c
	peer busy --count 7 --comm busy
	peer quiet --count 2 --family 6 --rst --comm quiet
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b uid-filter"
	tracer_start --backend="$b" -v -U -u 65534
	peer root --count 2
	peer nobody --count 3 --uid 65534
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b cgroup-filter"
	tracer_start --backend="$b" -v -C /sys/fs/cgroup/traced
	peer outside --count 2 --comm outside
	sh -c 'echo $$ > /sys/fs/cgroup/traced/cgroup.procs && exec tcppeer --count 2 --comm inside' \
		>$W/peer 2>$W/peer.err
	echo "@@@ PEER inside rc=$?"
	cat $W/peer $W/peer.err
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $b columns"
	tracer_start --backend="$b" -v -T -t -U -w -q
	peer ipv6 --family 6 --count 2
	tracer_stop
	echo "@@@ END"

	# -c -q's histograms and --metrics' together: a known wait of 100 ms
	# and a little, in the 65536-131071 us bucket.
	echo "@@@ CASE $b histogram"
	tracer_start --backend="$b" -v -c -q -j --metrics=$W/m.prom -i 1
	peer slow --count 4 --hold 100 --connect-interval 250 --comm slow
	tracer_stop
	echo "@@@ METRICS"
	cat $W/m.prom
	echo "@@@ END"

	# -d ends the tracer by itself, after -i's tables.
	echo "@@@ CASE $b interval-duration"
	tracer_start --backend="$b" -v -c -i 1 -d 3
	peer first --count 4 --comm first
	wait $TRACER
	rc=$?
	echo "@@@ TRACER-OUT"
	cat $W/out
	echo "@@@ TRACER-ERR"
	grep '^tcpaccept: ' $W/err
	echo "@@@ TRACER-RC $rc"
	echo "@@@ END"

	echo "@@@ CASE $b many-blocked-threads"
	tracer_start --backend="$b" -v
	peer_blocked_start --threads 64 --count 64 --comm crowd
	peer_blocked_finish crowd
	tracer_stop
	echo "@@@ END"
done

# Nothing of any tracer may be left behind: kprobe events, programs.
echo "@@@ CASE all leftovers"
echo "@@@ TRACER-OUT"
cat /sys/kernel/tracing/kprobe_events
echo "@@@ TRACER-RC 0"
echo "@@@ END"

echo "@@@ CASE auto choice"
tracer_start -v
peer ipv4 --family 4 --count 1
tracer_stop
echo "@@@ END"
