#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Runs inside a test VM (busybox sh): traces connections made by tcppeer with
# every way in listed in $WAYS and prints everything between @@@ markers;
# tests/vm/test_vm.py checks it on the host, field by field.
#
# A case:   @@@ CASE <way> <name>
#           @@@ MISSES <n>   (runs of the tracer's programs the kernel skipped)
#           @@@ PROGS <name>...   (the BPF programs loaded, as kallsyms names them)
#           @@@ KSYM <symbol> <n>   (how many times kallsyms lists it)
#           @@@ ATTACHED <type> <name>   (what a tracer's fd attaches to:
#               tcppeer --attachments, the kernel's BPF_TASK_FD_QUERY)
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
	# Runs of the tracer's programs the kernel skipped and counted
	# (recursion_misses in their fdinfo, 5.12+), and the calls its
	# kprobe_events probes missed (kprobe_profile's last column: the only
	# ones in the guest): read while it holds them.
	echo "@@@ MISSES $( (cat /proc/$TRACER/fdinfo/* 2>/dev/null |
		awk '/^recursion_misses:/ { n += $2 } END { print n + 0 }'
		awk '{ n += $NF } END { print n + 0 }' /sys/kernel/tracing/kprobe_profile 2>/dev/null) |
		awk '{ n += $1 } END { print n + 0 }')"
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

# The BPF programs loaded now, by the names the JIT gives them in
# kallsyms (bpf_prog_TAG_NAME, NAME cut to 15 characters).
progs() {
	echo "@@@ PROGS $(sed -n 's/.* bpf_prog_[0-9a-f]*_\([A-Za-z0-9_]*\).*/\1/p' /proc/kallsyms |
		sort -u | tr '\n' ' ')"
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
	# One that exited (a protocol the kernel lacks) shows in its rc.
	if ! wait_for $W/bpeer 300 READY $BPEER && kill -0 $BPEER 2>/dev/null; then
		echo "@@@ NOTE blocked peer not READY"
	fi
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

# Which service accepted (issue 22): directories named as systemd units and
# containers under a slice of the tests' own (systemd skips slices), with a
# server moved into each; the IDs are the host tests' (tests/lib/cgroups.py).
SVC=/sys/fs/cgroup/tcpaccept-vm.slice
ID_A=4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2
ID_B=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ID_C=abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789

# A tcppeer in cgroup $2 (made if missing), in new PID and mount namespaces
# when $3 is "ns"; before it listens it prints what it sees from inside:
# a TRUTH line (its PID, namespaces and cgroup), then tcppeer's own lines.
svc_peer() { # label dir ns|host tcppeer-args...
	label=$1 dir=$2 mode=$3
	shift 3
	mkdir -p "$dir"
	pre=""
	[ "$mode" = ns ] && pre="unshare -p -f --mount-proc"
	$pre sh -c 'echo $$ >"$0/cgroup.procs" &&
		echo TRUTH nspid=$$ pidns=$(stat -L -c %i /proc/self/ns/pid) mntns=$(stat -L -c %i /proc/self/ns/mnt) netns=$(stat -L -c %i /proc/self/ns/net) cgroup=$(sed -n "s/^0:://p" /proc/self/cgroup) &&
		exec tcppeer "$@"' "$dir" "$@" >$W/peer 2>$W/peer.err
	echo "@@@ PEER $label rc=$?"
	cat $W/peer $W/peer.err
}

# The PID of the only child of process $1 (unshare -f's, nsenter's).
child_of() {
	i=0
	while [ -z "$(cat /proc/$1/task/$1/children 2>/dev/null)" ] && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	cat /proc/$1/task/$1/children | tr -d ' '
}

# SCTP: Debian builds it as a module. Load it and what it needs (the
# kernel package's own modules, in $SCTP_MODULES's order) once.
echo "@@@ CASE all sctp-modules"
echo "@@@ TRACER-OUT"
rc=0
for m in ${SCTP_MODULES:-}; do
	insmod /bin/$m 2>&1 || { echo "insmod $m failed"; rc=1; }
done
# Listening takes the cookie HMAC (md5 by default), which may be one more
# module: SCTP cookies without it are as good for these tests.
[ $rc -eq 0 ] && { echo none >/proc/sys/net/sctp/cookie_hmac_alg || rc=1; }
[ -n "${SCTP_MODULES:-}" ] || { echo "no SCTP_MODULES"; rc=1; }
echo "@@@ TRACER-RC $rc"
echo "@@@ END"

# A sysctl for one case; restored by sysctl_restore.
sysctl_set() { # name value
	SYSCTL_NAME=$1
	SYSCTL_OLD=$(cat /proc/sys/$1)
	echo "$2" >/proc/sys/$1 || echo "@@@ NOTE cannot set $1"
}
sysctl_restore() {
	echo "$SYSCTL_OLD" >/proc/sys/$SYSCTL_NAME || echo "@@@ NOTE cannot restore $SYSCTL_NAME"
}

for way in $WAYS; do
	echo "@@@ CASE $way fields"
	tracer_start --way="$way" -v
	echo "@@@ CAPEFF $(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$TRACER/status)"
	progs
	peer ipv4 --family 4 --count 3
	peer ipv6-accept4 --family 6 --count 3 --accept4
	peer mapped --family mapped --count 2
	peer rst --rst --count 16
	peer unix --unix --count 2
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way blocked-before-start"
	peer_blocked_start --count 1 --comm early-bird
	tracer_start --way="$way" -v
	peer_blocked_finish blocked
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way json-queue-io_uring"
	tracer_start --way="$way" -v -j -q
	peer hostile --count 2 --rst --delay-accept 100 --comm '\x1b[2J\n fake 1.2.3.4'
	peer io_uring --io-uring --count 2 --comm uring-srv
	peer nobody --uid 65534 --count 1 --family 6
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way count"
	tracer_start --way="$way" -v -c
	peer busy --count 7 --comm busy
	peer quiet --count 2 --family 6 --rst --comm quiet
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way uid-filter"
	tracer_start --way="$way" -v -U -u 65534
	peer root --count 2
	peer nobody --count 3 --uid 65534
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way cgroup-filter"
	tracer_start --way="$way" -v -C /sys/fs/cgroup/traced
	peer outside --count 2 --comm outside
	sh -c 'echo $$ > /sys/fs/cgroup/traced/cgroup.procs && exec tcppeer --count 2 --comm inside' \
		>$W/peer 2>$W/peer.err
	echo "@@@ PEER inside rc=$?"
	cat $W/peer $W/peer.err
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way columns"
	tracer_start --way="$way" -v -T -t -U -w -q
	peer ipv6 --family 6 --count 2
	tracer_stop
	echo "@@@ END"

	# -6 keeps IPv6 sockets, --client-family=4 their IPv4 clients: only
	# the dual-stack listener's IPv4 clients are left.
	echo "@@@ CASE $way client-family"
	tracer_start --way="$way" -v -6 --client-family=4
	peer ipv4 --family 4 --count 2
	peer ipv6 --family 6 --count 2
	peer mapped --family mapped --count 3
	tracer_stop
	echo "@@@ END"

	# -c -q's histograms and --metrics' together: a wait of 100 ms and a
	# little, checked against the bounds tcppeer prints for each accept.
	echo "@@@ CASE $way histogram"
	tracer_start --way="$way" -v -c -q -j --metrics=$W/m.prom -i 1
	peer slow --count 4 --hold 100 --connect-interval 250 --comm slow
	tracer_stop
	echo "@@@ METRICS"
	cat $W/m.prom
	echo "@@@ END"

	# -d ends the tracer by itself, after -i's tables.
	echo "@@@ CASE $way interval-duration"
	tracer_start --way="$way" -v -c -i 1 -d 3
	peer first --count 4 --comm first
	wait $TRACER
	rc=$?
	echo "@@@ TRACER-OUT"
	cat $W/out
	echo "@@@ TRACER-ERR"
	grep '^tcpaccept: ' $W/err
	echo "@@@ TRACER-RC $rc"
	echo "@@@ END"

	echo "@@@ CASE $way many-blocked-threads"
	tracer_start --way="$way" -v
	peer_blocked_start --threads 64 --count 64 --comm crowd
	peer_blocked_finish crowd
	tracer_stop
	echo "@@@ END"

	# MPTCP (the peers fail where the kernel has none: 5.10).
	echo "@@@ CASE $way mptcp"
	tracer_start --way="$way" -v -j -q
	peer mptcp-ipv4 --proto mptcp --count 3
	peer mptcp-ipv6 --proto mptcp --family 6 --count 2 --accept4
	peer mptcp-mapped --proto mptcp --family mapped --count 2
	peer mptcp-plain --proto mptcp --client-proto tcp --count 2
	peer mptcp-rst --proto mptcp --rst --count 4 --delay-accept 100
	peer mptcp-io_uring --proto mptcp --io-uring --count 2
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way mptcp-columns"
	tracer_start --way="$way" -v --print-proto -P 7001
	peer mptcp-mixed --proto mptcp --client-proto mixed --count 4 --port 7001
	peer mptcp-other-port --proto mptcp --count 2 --port 7002
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way mptcp-blocked"
	peer_blocked_start --proto mptcp --count 1 --comm early-mptcp
	tracer_start --way="$way" -v --print-proto
	peer_blocked_finish blocked
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way mptcp-count"
	tracer_start --way="$way" -v -c -j
	peer mixed --proto mptcp --client-proto mixed --count 6 --comm mixed
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way fastopen-syncookies"
	tracer_start --way="$way" -v -j -q
	sysctl_set net/ipv4/tcp_fastopen 3
	peer tfo-ipv4 --fastopen --count 5 --stats
	peer tfo-ipv6 --fastopen --family 6 --count 5 --stats
	sysctl_restore
	sysctl_set net/ipv4/tcp_syncookies 2
	peer cookies-ipv4 --count 3 --stats
	peer cookies-ipv6 --family 6 --count 3 --stats
	peer cookies-mptcp --proto mptcp --count 2 --stats
	sysctl_restore
	tracer_stop
	echo "@@@ END"

	echo "@@@ CASE $way sctp-unix"
	tracer_start --way="$way" -v -j
	peer sctp-ipv4 --proto sctp --count 3
	peer sctp-ipv6 --proto sctp --family 6 --count 2 --accept4
	peer unix --unix --count 2
	peer tcp --count 1
	tracer_stop
	echo "@@@ END"

	# -x: a backlog-2 listener, a slow server, 60 clients at once, each
	# burst on a port of its own; tcppeer --stats prints the kernel's
	# counters (the VM's own: nothing else runs) and the listener's d.
	# With SYN cookies an IPv4 and an IPv6 burst at once (two listeners,
	# each count its own; drops at the SYN and the cookies' final ACKs);
	# without, the SYN queue's drops and, with --lazy-ack, the request
	# sockets' final ACKs. Then accept() errors.
	echo "@@@ CASE $way failed"
	tracer_start --way="$way" -v -a -j --metrics=$W/m.prom -P 7101-7110
	progs
	tcppeer --attachments $TRACER |
		sed -n 's/^ATTACHED fd=[0-9]* type=\([^ ]*\) name=\(.*\)$/@@@ ATTACHED \1 \2/p'
	echo "@@@ KSYM __per_cpu_offset $(grep -c ' __per_cpu_offset$' /proc/kallsyms)"
	burst="--burst 60 --count 20 --backlog 2 --delay-accept 50 --stats --timeout 120"
	sysctl_set net/ipv4/tcp_syncookies 1
	# The kernel's counters around both (each tcppeer's STAT lines would
	# count the other's drops too).
	echo "@@@ PEER netstat-before rc=0"
	cat /proc/net/netstat
	tcppeer $burst --port 7101 >$W/b1 2>&1 &
	B1=$!
	tcppeer $burst --family 6 --port 7102 >$W/b2 2>&1 &
	B2=$!
	wait $B1
	echo "@@@ PEER burst4 rc=$?"
	cat $W/b1
	wait $B2
	echo "@@@ PEER burst6 rc=$?"
	cat $W/b2
	echo "@@@ PEER netstat-after rc=0"
	cat /proc/net/netstat
	sysctl_restore
	sysctl_set net/ipv4/tcp_syncookies 0
	peer burst4-nocookies $burst --port 7103
	peer lazy --burst 12 --count 6 --backlog 2 --delay-accept 20 --lazy-ack --stats --port 7105 \
		--timeout 120
	sysctl_restore
	peer emfile --count 3 --emfile 25 --port 7106
	peer emfile-accept4 --count 3 --emfile 25 --accept4 --family 6 --port 7107
	peer emfile-io_uring --count 3 --emfile 25 --io-uring --port 7108
	peer emfile-unix --count 3 --emfile 25 --unix
	peer eagain --count 2 --eagain 2000 --port 7109
	tracer_stop
	echo "@@@ METRICS"
	cat $W/m.prom
	echo "@@@ END"

	# -j's cgroup, unit, container, nspid, pidns and mntns: a directory
	# made before tcpaccept starts (its walk names it) and ones made after
	# (cgroup_mkdir does); the first server in PID and mount namespaces of
	# its own.
	echo "@@@ CASE $way services"
	rm -rf $SVC 2>/dev/null
	mkdir -p $SVC/system.slice/docker-$ID_A.scope
	tracer_start --way="$way" -v -j
	svc_peer docker-systemd $SVC/system.slice/docker-$ID_A.scope ns --count 2
	svc_peer systemd-service $SVC/system.slice/nginx.service host --count 1
	svc_peer podman-cgroupfs $SVC/libpod_parent/libpod-$ID_B host --count 1
	svc_peer none $SVC/plain/workers ns --count 1
	tracer_stop
	echo "@@@ END"

	# --container and -S: the container made before start and one made
	# after match their prefixes, a nested one through its outer one; a
	# unit's server and a plain one do not.
	echo "@@@ CASE $way container-filter"
	tracer_start --way="$way" -v -S --container=${ID_A%${ID_A#????????????}},0123456
	svc_peer docker-systemd $SVC/system.slice/docker-$ID_A.scope host --count 2
	svc_peer kubepods-cgroupfs $SVC/kubepods/burstable/pod8a1c3b5e-2f4d-4c6b-9e8a-7d6c5b4a3f21/$ID_B host --count 1
	svc_peer crio-nested $SVC/system.slice/docker-$ID_A.scope/kubelet.slice/crio-$ID_C.scope host --count 1
	svc_peer systemd-service $SVC/system.slice/nginx.service host --count 1
	svc_peer none $SVC/plain/workers host --count 1
	tracer_stop
	echo "@@@ END"

	# tcpaccept in a PID namespace of its own: rows and -p in its PIDs; a
	# server outside is left out and counted.
	echo "@@@ CASE $way pidns"
	: >$W/out
	: >$W/err
	unshare -p -f --mount-proc tcpaccept --way="$way" -v -j >$W/out 2>$W/err &
	UNSHARE=$!
	TRACER=$(child_of $UNSHARE)
	wait_for $W/err 600 "tcpaccept: way in: " $TRACER || echo "@@@ NOTE tracer not attached"
	nsenter -t $TRACER -p -m tcppeer --count 2 --comm inside >$W/peer 2>$W/peer.err
	echo "@@@ PEER inside rc=$?"
	cat $W/peer $W/peer.err
	peer outside --count 3 --comm outside
	kill -INT $TRACER
	wait $UNSHARE
	echo "@@@ TRACER-RC $?"
	echo "@@@ TRACER-OUT"
	cat $W/out
	echo "@@@ TRACER-ERR"
	grep '^tcpaccept: ' $W/err
	echo "@@@ END"

	# --btf with the kernel's BTF hidden, as on a kernel without it.
	echo "@@@ CASE $way btf-file"
	mount -t tmpfs none /sys/kernel/btf || echo "@@@ NOTE cannot hide /sys/kernel/btf"
	tracer_start --way="$way" -v -j --btf=/bin/$BTF_FILE
	peer ipv4 --count 2
	peer mptcp-ipv6 --proto mptcp --family 6 --count 2
	tracer_stop
	umount /sys/kernel/btf || echo "@@@ NOTE cannot unhide /sys/kernel/btf"
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
