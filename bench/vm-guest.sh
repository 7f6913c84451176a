#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Runs inside a bench VM (busybox sh, booted by bench/vm.sh through
# tests/vm/boot.sh): for every way in listed in $WAYS and each
# configuration (floor: tcpaccept -p of this shell, which never accepts,
# so its programs return at once; count: -c; print; failed: -x;
# count-failed: -c -x; metrics: --metrics), the tax on getppid() (bench/
# syscalltax), the BPF run time per accept of bench/acceptloop and per SYN
# of bench/synflood (SYNs against a full listener, each dropped), every
# program of the tracer added up, read from its /proc/PID/fdinfo with
# kernel.bpf_stats_enabled=1.
#
# Output lines: @@@ TAX <way> <config> <ns per call>
#               @@@ BPF <way> <config> <run_time_ns> <run_cnt> <accepts>
#               @@@ SYN <way> <config> <run_time_ns> <run_cnt> <syns>
#               @@@ REFUSED <way> <tcpaccept's line>   (a way this kernel refuses:
#                                                       fexit on arm64 before 6.4)
set -u
FLOOR_PID=$$
W=/tmp/bench
mkdir -p $W

tax() { syscalltax -d "${TAX_SECONDS:-1}" | sed 's/.*ns_per_call_min=\([0-9.]*\).*/\1/'; }

# Sums run_time_ns and run_cnt over the BPF programs process $1 holds.
bpf_totals() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null |
		awk '/^run_time_ns:/ { t += $2 } /^run_cnt:/ { n += $2 } END { print t + 0, n + 0 }'
}

echo "@@@ TAX none untraced $(tax)"
for way in $WAYS; do
	for config in floor count print failed count-failed metrics; do
		case $config in
		floor) args="-p $FLOOR_PID" ;;
		count) args="-c" ;;
		print) args="" ;;
		failed) args="-x" ;;
		count-failed) args="-c -x" ;;
		metrics) args="--metrics=$W/m.prom" ;;
		esac
		# shellcheck disable=SC2086 # $args is a word list
		tcpaccept --way="$way" -v $args >$W/out 2>$W/err &
		tracer=$!
		i=0
		until grep -q '^tcpaccept: way in: ' $W/err; do
			refused=$(grep -m 1 "^tcpaccept: the $way way in is not available" $W/err)
			if [ -n "$refused" ]; then
				wait $tracer
				echo "@@@ REFUSED $way $refused"
				continue 3
			fi
			i=$((i + 1))
			if [ $i -gt 600 ] || ! kill -0 $tracer 2>/dev/null; then
				echo "@@@ FAIL $way $config: not attached"
				cat $W/err
				break
			fi
			sleep 0.1
		done
		echo "@@@ TAX $way $config $(tax)"
		echo 1 >/proc/sys/kernel/bpf_stats_enabled
		accepts=$(acceptloop -d "${LOOP_SECONDS:-2}" | sed 's/.*accepts=\([0-9]*\).*/\1/')
		echo "@@@ BPF $way $config $(bpf_totals $tracer) $accepts"
		before=$(bpf_totals $tracer)
		syns=$(synflood -d "${LOOP_SECONDS:-2}" | sed 's/.*syns=\([0-9]*\).*/\1/')
		echo "$before $(bpf_totals $tracer) $syns" |
			awk -v w="$way" -v c="$config" '{ print "@@@ SYN", w, c, $3 - $1, $4 - $2, $5 }'
		echo 0 >/proc/sys/kernel/bpf_stats_enabled
		kill -INT $tracer
		wait $tracer
	done
done
echo "@@@ TAX none untraced $(tax)"
