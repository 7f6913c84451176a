#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The cost of each way in on Debian's kernels under qemu (TCG), where fexit
# and kprobes are allowed: boots each kernel with bench/vm-guest.sh and
# prints, per way in and configuration, the syscall tax and the BPF run time
# per accept as ratios to the floor of the same guest (TCG skews absolute
# times, not their order). Kernels come from tests/vm/kernels.sh's cache.
#
#   bench/vm.sh [SUITE...]     (default: bullseye bookworm trixie, amd64)
set -euo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bullseye bookworm trixie)
[ -x ./tcpaccept ] || { echo "bench/vm.sh: ./tcpaccept is missing; run make first" >&2; exit 1; }
mkdir -p .output/bench
for prog in syscalltax acceptloop synflood; do
	if [ ! -x .output/bench/$prog ] || [ bench/$prog.c -nt .output/bench/$prog ]; then
		echo "  CC       .output/bench/$prog"
		${CC:-cc} -O2 -Wall -Wextra -Werror -static -o .output/bench/$prog bench/$prog.c
	fi
done

log=$(mktemp -d /tmp/tcpaccept-bench-vm.XXXXXX)
echo "bench/vm.sh: commit $(git rev-parse --short HEAD), logs in $log"
for suite in "${suites[@]}"; do
	kernel=$(tests/vm/kernels.sh fetch "$suite" amd64)
	tests/vm/boot.sh --kernel "$kernel" --script bench/vm-guest.sh --out "$log/$suite.log" \
		--smp 1 --timeout 600 --env WAYS="fexit kprobe tracepoint" \
		./tcpaccept .output/bench/syscalltax .output/bench/acceptloop .output/bench/synflood >/dev/null
	release=$(sed -n 's/^TCPACCEPT-VM-BEGIN //p' "$log/$suite.log")
	echo
	echo "== $suite, Linux $release (qemu TCG, 1 vCPU) =="
	awk '
	/^@@@ FAIL/ { print; bad = 1 }
	/^@@@ TAX none/ { base = (base == "" ? $5 : (base + $5) / 2) }
	/^@@@ TAX / && $3 != "none" { tax[$3 " " $4] = $5 }
	/^@@@ BPF / { if ($7 > 0) bpf[$3 " " $4] = $5 / $7 }
	/^@@@ SYN / { if ($7 > 0) syn[$3 " " $4] = $5 / $7 }
	END {
		printf "untraced getppid(): %.0f ns\n", base
		printf "%-11s %-12s %10s %10s %13s %8s %11s %8s\n", "way in", "config", "getppid ns",
			"x untraced", "BPF ns/accept", "x floor", "BPF ns/SYN", "x floor"
		split("fexit kprobe tracepoint", ways, " ")
		split("floor count print failed count-failed metrics", cfgs, " ")
		for (w = 1; w <= 3; w++) for (c = 1; c <= 6; c++) {
			k = ways[w] " " cfgs[c]
			if (!(k in tax)) continue
			# Both figures as ratios to the floor'"'"'s BPF time per accept.
			f = bpf[ways[w] " floor"]
			printf "%-11s %-12s %10.0f %10.2f %13.0f %8s %11.0f %8s\n", ways[w], cfgs[c], tax[k],
				tax[k] / base, bpf[k], (f > 0 ? sprintf("%.2f", bpf[k] / f) : "-"),
				syn[k], (f > 0 ? sprintf("%.2f", syn[k] / f) : "-")
		}
		exit bad
	}' "$log/$suite.log"
done
