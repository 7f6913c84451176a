#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The cost of each way in on Debian's kernels under qemu (TCG), where fexit
# and kprobes are allowed: boots each kernel with bench/vm-guest.sh and
# prints, per way in and configuration, the syscall tax and the BPF run time
# per accept as ratios to the floor of the same guest (TCG skews absolute
# times, not their order). The kernels are tests/vm/kernels.list's, from
# tests/vm/kernels.sh's cache; arm64's binaries are cross-built (make
# ARCH=arm64, aarch64-linux-gnu-gcc: scripts/install-arm64-deps.sh).
#
#   bench/vm.sh [NAME|ARCH...]   NAME: SUITE-ARCH from the list (trixie-amd64);
#                                ARCH: amd64 or arm64, all of its kernels;
#                                default: every kernel of the list
set -euo pipefail
cd "$(dirname "$0")/.."

list=$(tests/vm/kernels.sh list)
names=()
for want in "${@:-all}"; do
	got=$(awk -v w="$want" 'w == "all" || $1 == w || $3 == w { print $1 }' <<<"$list")
	[ -n "$got" ] || { echo "bench/vm.sh: '$want' is no kernel of tests/vm/kernels.list:" >&2; \
		awk '{ print "  " $1 }' <<<"$list" >&2; exit 64; }
	mapfile -t -O ${#names[@]} names <<<"$got"
done

# Per Debian arch: the tcpaccept the guest runs, where the bench programs go,
# the compiler that builds them, qemu's name for the arch.
declare -A TCPACCEPT=([amd64]=./tcpaccept [arm64]=.output/arm64/tcpaccept)
declare -A BENCH=([amd64]=.output/bench [arm64]=.output/arm64/bench)
declare -A CC=([amd64]=${CC:-cc} [arm64]=aarch64-linux-gnu-gcc)
declare -A QEMU_ARCH=([amd64]=x86_64 [arm64]=arm64)
archs=$(for n in "${names[@]}"; do awk -v n="$n" '$1 == n { print $3 }' <<<"$list"; done | sort -u)
for arch in $archs; do
	case $arch in
	amd64) [ -x ./tcpaccept ] || { echo "bench/vm.sh: ./tcpaccept is missing; run make first" >&2; exit 1; } ;;
	arm64)
		command -v "${CC[arm64]}" >/dev/null || {
			echo "bench/vm.sh: ${CC[arm64]} is missing: run scripts/install-arm64-deps.sh, or bench/vm.sh amd64" >&2
			exit 1
		}
		make --no-print-directory ARCH=arm64 all
		;;
	esac
	mkdir -p "${BENCH[$arch]}"
	for prog in syscalltax acceptloop synflood; do
		bin=${BENCH[$arch]}/$prog
		if [ ! -x "$bin" ] || [ bench/$prog.c -nt "$bin" ]; then
			echo "  CC       $bin"
			"${CC[$arch]}" -O2 -Wall -Wextra -Werror -static -o "$bin" bench/$prog.c
		fi
	done
done

log=$(mktemp -d /tmp/tcpaccept-bench-vm.XXXXXX)
echo "bench/vm.sh: commit $(git rev-parse --short HEAD), logs in $log"
for name in "${names[@]}"; do
	read -r _ suite arch _ < <(awk -v n="$name" '$1 == n' <<<"$list")
	kernel=$(tests/vm/kernels.sh fetch "$suite" "$arch")
	tests/vm/boot.sh --kernel "$kernel" --arch "${QEMU_ARCH[$arch]}" --script bench/vm-guest.sh \
		--out "$log/$name.log" --smp 1 --timeout 600 --env WAYS="fexit kprobe tracepoint" \
		"${TCPACCEPT[$arch]}" "${BENCH[$arch]}/syscalltax" "${BENCH[$arch]}/acceptloop" \
		"${BENCH[$arch]}/synflood" >/dev/null
	release=$(sed -n 's/^TCPACCEPT-VM-BEGIN //p' "$log/$name.log")
	echo
	echo "== $name, Linux $release (qemu TCG, 1 vCPU) =="
	awk '
	/^@@@ FAIL/ { print; bad = 1 }
	/^@@@ REFUSED / { line = $0; sub(/^@@@ REFUSED [^ ]+ /, "", line); refused[$3] = line }
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
		for (w in refused) printf "%-11s refused by the kernel: %s\n", w, refused[w]
		exit bad
	}' "$log/$name.log"
done
