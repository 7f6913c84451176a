#!/usr/bin/env bash
# Smoke test of the VM harness: boot each kernel of tests/vm/kernels.list (or
# those of ARCH) with a tiny static C program that checks what tcpaccept relies
# on (kernel BTF, inet_csk_accept symbol).
#
#   smoke.sh [amd64|arm64]
#
# Prints "vm-smoke <name> <uname -r> pass|fail <seconds>s" per kernel; exits 1 if
# any failed. arm64's program is built with aarch64-linux-gnu-gcc
# (scripts/install-arm64-deps.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
list=$("$here/kernels.sh" list ${1:+"$1"})
declare -A suite arch
names=()
while read -r name s a _; do
	names+=("$name")
	suite[$name]=$s arch[$name]=$a
done <<<"$list"

tmp=$(mktemp -d)
# Logs are kept for a look when something failed.
failed=0
trap '[ "$failed" -ne 0 ] || rm -rf "$tmp"' EXIT

cat >"$tmp/vm-smoke.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
	struct utsname u;
	char line[512], name[256];
	int ok = 1, found = 0;
	FILE *f;

	if (uname(&u) == 0)
		printf("vm-smoke: %s %s %s\n", u.sysname, u.release, u.machine);
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		printf("vm-smoke: /sys/kernel/btf/vmlinux present\n");
	} else {
		printf("vm-smoke: /sys/kernel/btf/vmlinux missing\n");
		ok = 0;
	}
	/* Lines are "address type name [module]"; match the name exactly. */
	f = fopen("/proc/kallsyms", "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %255s", name) == 1 &&
			strcmp(name, "inet_csk_accept") == 0;
	if (f)
		fclose(f);
	printf("vm-smoke: inet_csk_accept %s /proc/kallsyms\n", found ? "in" : "NOT in");
	return ok && found ? 0 : 1;
}
EOF
declare -A cc=([amd64]=cc [arm64]=aarch64-linux-gnu-gcc) qarch=([amd64]=x86_64 [arm64]=arm64)
for a in $(printf '%s\n' "${arch[@]}" | sort -u); do
	mkdir -p "$tmp/$a"
	"${cc[$a]}" -static -O2 -Wall -o "$tmp/$a/vm-smoke" "$tmp/vm-smoke.c"
done
printf 'vm-smoke\n' >"$tmp/test.sh"

# Fetch everything first so that the boot times below measure only the boots.
declare -A kernel
for n in "${names[@]}"; do
	kernel[$n]=$("$here/kernels.sh" fetch "${suite[$n]}" "${arch[$n]}") || kernel[$n]=''
done

for n in "${names[@]}"; do
	log=$tmp/$n.log
	start=$(date +%s.%N)
	ok=fail
	if [ -n "${kernel[$n]}" ] &&
		"$here/boot.sh" --kernel "${kernel[$n]}" --arch "${qarch[${arch[$n]}]}" \
			--script "$tmp/test.sh" --out "$log" "$tmp/${arch[$n]}/vm-smoke"; then
		ok=pass
	fi
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	release=$(sed -n 's/.*TCPACCEPT-VM-BEGIN \([^ ]*\).*/\1/p' "$log" 2>/dev/null | tail -n 1) || true
	# The kernel that booted must be the one fetched (vmlinuz-<release>).
	if [ "$ok" = pass ] && [ "vmlinuz-$release" != "${kernel[$n]##*/}" ]; then
		echo "smoke.sh: $n booted '$release', expected ${kernel[$n]##*/}" >&2
		ok=fail
	fi
	[ "$ok" = pass ] || failed=1
	echo "vm-smoke $n ${release:-?} $ok ${secs}s"
done

if [ "$failed" -ne 0 ]; then
	echo "smoke.sh: failures; logs kept in $tmp" >&2
	exit 1
fi
