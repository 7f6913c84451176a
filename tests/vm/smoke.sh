#!/usr/bin/env bash
# Smoke test of the VM harness: boot each Debian amd64 kernel with a tiny static C
# program that checks what tcpaccept relies on (kernel BTF, inet_csk_accept symbol).
# Prints "vm-smoke <suite> <uname -r> pass|fail <seconds>s" per kernel; exits 1 if any failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suites=(bullseye bookworm trixie)

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
cc -static -O2 -Wall -o "$tmp/vm-smoke" "$tmp/vm-smoke.c"
printf 'vm-smoke\n' >"$tmp/test.sh"

# Fetch everything first so that the boot times below measure only the boots.
declare -A kernel
for s in "${suites[@]}"; do
	kernel[$s]=$("$here/kernels.sh" fetch "$s") || kernel[$s]=''
done

for s in "${suites[@]}"; do
	log=$tmp/$s.log
	start=$(date +%s.%N)
	ok=fail
	if [ -n "${kernel[$s]}" ] &&
		"$here/boot.sh" --kernel "${kernel[$s]}" --script "$tmp/test.sh" --out "$log" \
			"$tmp/vm-smoke"; then
		ok=pass
	fi
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	release=$(sed -n 's/.*TCPACCEPT-VM-BEGIN \([^ ]*\).*/\1/p' "$log" 2>/dev/null | tail -n 1) || true
	# The kernel that booted must be the one fetched (vmlinuz-<release>).
	if [ "$ok" = pass ] && [ "vmlinuz-$release" != "${kernel[$s]##*/}" ]; then
		echo "smoke.sh: $s booted '$release', expected ${kernel[$s]##*/}" >&2
		ok=fail
	fi
	[ "$ok" = pass ] || failed=1
	echo "vm-smoke $s ${release:-?} $ok ${secs}s"
done

if [ "$failed" -ne 0 ]; then
	echo "smoke.sh: failures; logs kept in $tmp" >&2
	exit 1
fi
