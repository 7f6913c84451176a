#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Installs the Debian/Ubuntu packages tcpaccept needs, only those missing.
#   install-deps.sh build   what `make` needs
#   install-deps.sh test    what `make test` needs on top (qemu, busybox, pytest,
#                           and what builds and checks the Debian package...)
set -eu

build="clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev make gcc pkg-config"
test="python3 python3-pytest qemu-system-x86 busybox-static podman runc cpio iproute2 util-linux kmod strace valgrind libclang-rt-14-dev groff-base man-db procps zstd build-essential debhelper dpkg-dev devscripts lintian prometheus prometheus-node-exporter logrotate systemd"

case "${1:-build}" in
build) want=$build ;;
test) want="$build $test" ;;
*) echo "usage: $0 build|test" >&2; exit 64 ;;
esac

missing=
for pkg in $want; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing; installing them needs root: as root, run the same make command again as it is; as another user, put sudo before it (sudo make test)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null
