#!/usr/bin/env bash
# Boot a kernel under qemu (TCG) with a throw-away busybox initramfs and run one test script.
#
#   boot.sh --kernel VMLINUZ --script TEST.sh --out LOGFILE [--arch x86_64|arm64]
#           [--timeout SECS] [--mem MB] [--smp N] [--env K=V]... [FILE...]
#
# FILEs (static binaries) go to /bin, TEST.sh to /test.sh, --env lines to /test.env.
# LOGFILE gets the serial console; the test's output sits between the lines
# "TCPACCEPT-VM-BEGIN <uname -r>" and "TCPACCEPT-VM-EXIT <rc>".
# Exit status: the test's rc; 124 on timeout; 125 if the VM never reported an rc.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

die() { printf 'boot.sh: error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '4,5s/^# \{0,1\}//p' "$0" >&2; exit 2; }

kernel='' script='' out='' arch=x86_64 timeout=240 mem=1024 smp=2
envs=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel | --script | --out | --arch | --timeout | --mem | --smp | --env)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--kernel) kernel=$2 ;;
		--script) script=$2 ;;
		--out) out=$2 ;;
		--arch) arch=$2 ;;
		--timeout) timeout=$2 ;;
		--mem) mem=$2 ;;
		--smp) smp=$2 ;;
		--env) envs+=("$2") ;;
		esac
		shift 2
		;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
files=("$@")

if [ -z "$kernel" ] || [ -z "$script" ] || [ -z "$out" ]; then usage; fi
[ -f "$kernel" ] || die "no kernel at $kernel"
[ -f "$script" ] || die "no test script at $script"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "bad --timeout '$timeout'"
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "bad --mem '$mem'"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "bad --smp '$smp'"

# -smp 2: qemu 7.2 runs multi-threaded TCG (one host thread per vCPU), so boots take
# the same time as with -smp 1 here, and a second CPU lets tests exercise concurrent
# accept paths. Two VMs at once on this 2-core host would compete, so run them in turn.
# (KVM is not used: Debian's kernels hang or fault under it on these machines.)
case $arch in
x86_64)
	qemu=(qemu-system-x86_64 -machine accel=tcg -cpu max)
	console=ttyS0 debarch=amd64
	;;
arm64)
	qemu=(qemu-system-aarch64 -machine 'virt,accel=tcg' -cpu max)
	console=ttyAMA0 debarch=arm64
	;;
*) die "bad --arch '$arch' (want x86_64 or arm64)" ;;
esac
command -v "${qemu[0]}" >/dev/null || die "${qemu[0]} not installed"
busybox=$("$here/kernels.sh" busybox "$debarch")

# A dynamically linked binary would fail in the VM with a baffling "not found".
is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }
for f in "$busybox" "${files[@]}"; do
	[ -f "$f" ] || die "no such file: $f"
	if is_dynamic "$f"; then die "$f is dynamically linked; the VM has no libc"; fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/run"
cp "$busybox" "$root/bin/busybox"
for f in "${files[@]}"; do cp "$f" "$root/bin/"; done
cp "$script" "$root/test.sh"

# /test.env: one exported, single-quoted assignment per --env.
: >"$root/test.env"
for kv in "${envs[@]}"; do
	k=${kv%%=*}
	[[ $kv == *=* && $k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad --env '$kv' (want K=V)"
	v=${kv#*=}
	printf "export %s='%s'\n" "$k" "${v//\'/\'\\\'\'}" >>"$root/test.env"
done

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# PID 1: applet links (copied binaries win: --install does not overwrite), mounts, test, power off.
/bin/busybox --install -s /bin
export PATH=/bin
# devtmpfs first: busybox sh needs /dev/null to start background jobs.
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in bpf:/sys/fs/bpf tracefs:/sys/kernel/tracing debugfs:/sys/kernel/debug; do
	if mount -t "${m%%:*}" "${m%%:*}" "${m#*:}"; then
		echo "tcpaccept-vm: mounted ${m%%:*} on ${m#*:}"
	else
		echo "tcpaccept-vm: could not mount ${m%%:*} on ${m#*:}"
	fi
done
ip link set lo up || echo "tcpaccept-vm: could not bring lo up"
. /test.env
cd /
echo "TCPACCEPT-VM-BEGIN $(uname -r)"
rc=0
sh /test.sh || rc=$?
echo "TCPACCEPT-VM-EXIT $rc"
poweroff -f
EOF
chmod 755 "$root/init" "$root/bin"/*

(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$tmp/initrd.gz"

# -nic none: no default user-mode NIC; the tests need only lo.
# qemu's own stdin is /dev/null (no terminal to put in raw mode); the serial console
# arrives on its stdout with \r\n line ends and SeaBIOS's terminal escapes (one clears
# the screen), both dropped so the log is plain text.
rc=0
timeout -k 5 "$timeout" "${qemu[@]}" -smp "$smp" -m "$mem" -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=$console loglevel=3 panic=-1" </dev/null |
	tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' >"$out" || rc=$?

fail() {
	printf 'boot.sh: %s (log: %s)\n' "$2" "$out" >&2
	tail -n 30 "$out" | sed 's/^/  | /' >&2
	exit "$1"
}
# timeout(1) exits 124, or 137 if qemu needed the KILL.
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail 124 "timed out after ${timeout}s"; fi
test_rc=$(sed -n 's/.*TCPACCEPT-VM-EXIT \([0-9][0-9]*\).*/\1/p' "$out" | tail -n 1)
[ -n "$test_rc" ] || fail 125 "no TCPACCEPT-VM-EXIT marker (qemu exit $rc): boot or init failed"
[ "$test_rc" -eq 0 ] || fail "$test_rc" "test script exited $test_rc"
