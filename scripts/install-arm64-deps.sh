#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Installs what `make ARCH=arm64` needs on a Debian 12 (or newer) amd64 host,
# only the packages that are missing; exits 0 at once when everything is there.
#
#   install-arm64-deps.sh [build]   aarch64 cross gcc, Debian's arm64 libbpf/libelf/zlib
#   install-arm64-deps.sh test      also qemu-system-aarch64 etc. for the arm64 VM tests
#
# The arm64 libraries come from Debian's own arm64 packages through dpkg
# multiarch: libbpf-dev, libelf-dev and zlib1g-dev are "Multi-Arch: same", so
# their :arm64 and :amd64 flavours install side by side (at the same version)
# and the host's x86 build is left as it was. The arm64 static libraries land
# in /usr/lib/aarch64-linux-gnu, where aarch64-linux-gnu-gcc looks by default.
#
# The packages come from this machine's own apt sources, whatever mirror or
# proxy they name. Stock Debian 12 sources (no Architectures:/[arch=]
# restriction) serve arm64 as they are; nothing in /etc/apt is edited here.
set -eu

# shellcheck source=SCRIPTDIR/debian-mirror.sh
. "$(dirname "$0")/debian-mirror.sh"

me=install-arm64-deps
FOREIGN=arm64
TRIPLET=aarch64-linux-gnu

# Host tools (amd64): the BPF side is built by the host's clang/bpftool.
host_build="make clang llvm bpftool pkg-config"
# Cross toolchain (amd64 binaries, "all" libc for the target). The libc is only a
# Recommends of gcc-aarch64-linux-gnu, so it is named here.
cross_build="gcc-$TRIPLET binutils-$TRIPLET libc6-dev-$FOREIGN-cross"
# Target libraries, through multiarch.
target_build="libbpf-dev:$FOREIGN libelf-dev:$FOREIGN zlib1g-dev:$FOREIGN"
# What tests/vm/{kernels,boot}.sh use to boot a Debian arm64 kernel under TCG.
test_pkgs="qemu-system-arm cpio gzip binutils util-linux debian-archive-keyring"

log() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
	printf '%s: ERROR: %s\n' "$me" "$*" >&2
	exit 1
}

case "${1:-build}" in
build) want="$host_build $cross_build $target_build" ;;
test) want="$host_build $cross_build $target_build $test_pkgs" ;;
-h | --help)
	sed -n '3,8s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "usage: $0 [build|test]" >&2
	exit 64
	;;
esac

[ "$(dpkg --print-architecture 2>/dev/null || true)" = amd64 ] ||
	die "this script sets up an amd64 host to cross-build for arm64 (host is '$(dpkg --print-architecture 2>/dev/null || echo unknown)')"

# The Debian entry of the apt sources (URI SUITE ARCHS FILE) must not be
# restricted to other architectures, or apt has no :arm64 packages to offer.
entry=$(debian_entry "")
archs=$(echo "$entry" | cut -d' ' -f3)
case ",$archs," in
,-, | ,, | *",$FOREIGN,"*) ;;
*) die "the Debian entry in $(echo "$entry" | cut -d' ' -f4-) allows only the architectures $archs: add $FOREIGN (Architectures: in deb822, [arch=...] on a deb line)" ;;
esac

installed() {
	# "install ok installed"; with several arches of one package dpkg-query
	# concatenates them, hence the loose match on the tail.
	case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" in
	*"ok installed") return 0 ;;
	*) return 1 ;;
	esac
}

have_foreign() { dpkg --print-foreign-architectures | grep -qx "$FOREIGN"; }

# The files the build really uses; a package can be "installed" and still be broken.
check_files() {
	bad=
	for f in /usr/bin/$TRIPLET-gcc \
		/usr/lib/$TRIPLET/libbpf.a /usr/lib/$TRIPLET/libelf.a /usr/lib/$TRIPLET/libz.a \
		/usr/$TRIPLET/lib/libc.a /usr/include/bpf/libbpf.h; do
		[ -e "$f" ] || bad="$bad $f"
	done
	[ -z "$bad" ]
}

missing=
for pkg in $want; do
	installed "$pkg" || missing="$missing $pkg"
done
foreign_ok=yes
have_foreign || foreign_ok=no

if [ -z "$missing" ] && [ $foreign_ok = yes ]; then
	check_files || die "all packages are installed but these files are missing:$bad (try: apt-get install --reinstall $cross_build $target_build)"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	[ $foreign_ok = yes ] || log "dpkg has no '$FOREIGN' architecture (needs: dpkg --add-architecture $FOREIGN)"
	die "missing packages:${missing:- none}; installing them needs root: as root, run $0 ${1:-build} as it is; as another user, sudo $0 ${1:-build}"
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg run instead of failing on its lock.
APT="apt-get -o DPkg::Lock::Timeout=300"

need_update=no
if [ $foreign_ok = no ]; then
	log "adding dpkg architecture $FOREIGN"
	dpkg --add-architecture "$FOREIGN" || die "dpkg --add-architecture $FOREIGN failed"
	need_update=yes
fi

# apt knows the arm64 packages only after an update with arm64 enabled.
known() { apt-cache show "$1" >/dev/null 2>&1; }
for pkg in $missing; do
	known "$pkg" || need_update=yes
done
# Installed-but-outdated lists would pin an arm64 version that no longer matches
# the installed amd64 one; refresh whenever something is missing anyway.
[ -n "$missing" ] && need_update=yes

if [ $need_update = yes ]; then
	log "apt-get update"
	if ! $APT -q update >&2; then
		# A third-party repository without arm64 indexes makes update fail with
		# 404s even though Debian's own arm64 lists arrived; go on if they did.
		log "WARNING: apt-get update reported errors (see above)."
		log "WARNING: a non-Debian source without arm64 may need '[arch=amd64]' (one-line"
		log "WARNING: format) or 'Architectures: amd64' (deb822) in /etc/apt/sources.list.d/."
	fi
fi

unknown=
for pkg in $missing; do
	known "$pkg" || unknown="$unknown $pkg"
done
if [ -n "$unknown" ]; then
	log "apt has no candidate for:$unknown"
	log "the apt sources for Debian must allow arm64: no 'Architectures: amd64' (deb822)"
	log "nor '[arch=amd64]' (one-line format) on the Debian entries:"
	debian_sources | sed 's/^/  | /' >&2
	grep -rnE '^[[:space:]]*(Architectures:|deb[[:space:]]+\[[^]]*arch=)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | sed 's/^/  | /' >&2 || true
	die "cannot install:$unknown"
fi

if [ -n "$missing" ]; then
	log "installing$missing"
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	$APT install -y -q --no-install-recommends $missing >&2 ||
		die "apt-get install failed for:$missing (for the :$FOREIGN -dev packages, the :amd64 and :$FOREIGN versions must be equal: compare 'apt-cache policy libbpf-dev:amd64 libbpf-dev:$FOREIGN')"
fi

still=
for pkg in $want; do
	installed "$pkg" || still="$still $pkg"
done
[ -z "$still" ] || die "still not installed after apt-get:$still"
check_files || die "installed, but these files are missing:$bad"
log "arm64 build dependencies are installed"
exit 0
