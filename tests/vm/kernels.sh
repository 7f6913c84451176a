#!/usr/bin/env bash
# Fetch Debian kernels (and a static busybox) for the qemu test VMs.
#
#   kernels.sh list    [ARCH]         print the kernels of tests/vm/kernels.list, one a line:
#                                     NAME SUITE ARCH SERIES (NAME is SUITE-ARCH)
#   kernels.sh fetch   SUITE [ARCH]   print the cached vmlinuz, downloading it on first use
#   kernels.sh refresh SUITE [ARCH]   re-resolve against the archive, download if it moved on
#   kernels.sh busybox ARCH           print a static busybox for ARCH
#   kernels.sh modules SUITE ARCH MOD print a directory with module MOD of the cached kernel and
#                                     every module it needs, uncompressed, and the file
#                                     load-order naming them in the order insmod takes them
#
# SUITE: one of tests/vm/kernels.list; ARCH: amd64 (default) or arm64.
# Paths go to stdout, progress to stderr. The cache lives outside the work tree:
# ${TCPACCEPT_CACHE:-/var/cache/tcpaccept-tests}
# The packages come from the Debian mirror in this machine's apt sources, or
# from TCPACCEPT_DEBIAN_MIRROR / TCPACCEPT_DEBIAN_SECURITY_MIRROR (scripts/debian-mirror.sh).
set -euo pipefail

CACHE=${TCPACCEPT_CACHE:-/var/cache/tcpaccept-tests}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# shellcheck source=SCRIPTDIR/../../scripts/debian-mirror.sh
. "$(dirname "$0")/../../scripts/debian-mirror.sh"

log() { printf 'kernels.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '4,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

LIST=$(dirname "$0")/kernels.list

# The one reader of kernels.list: checks every line, prints NAME SUITE ARCH
# SERIES for those of ARCH (all if empty).
cmd_list() {
	[ -z "${1:-}" ] || check_arch "$1"
	awk -v want="${1:-}" -v list="$LIST" '
	function bad(why) { printf "kernels.sh: error: %s:%d: %s\n", list, NR, why > "/dev/stderr"; err = 1 }
	{ sub(/#.*/, "") }
	NF == 0 { next }
	NF != 3 { bad("want SUITE ARCH SERIES"); next }
	$1 !~ /^[a-z]+(-backports)?$/ { bad("bad suite " $1); next }
	$2 != "amd64" && $2 != "arm64" { bad("bad arch " $2); next }
	$3 !~ /^[1-9][0-9]*\.[0-9]+$/ { bad("bad series " $3); next }
	seen[$1 "-" $2]++ { bad("twice: " $1 " " $2); next }
	want == "" || $2 == want { print $1 "-" $2, $1, $2, $3 }
	END { exit err }' "$LIST" || die "bad kernel list $LIST"
}

check_suite() {
	cmd_list | awk -v s="$1" '$2 == s { found = 1 } END { exit !found }' ||
		die "unknown suite '$1' (want one of: $(cmd_list | awk '{ print $2 }' | sort -u | paste -sd ' '))"
}

check_arch() {
	case $1 in
	amd64 | arm64) ;;
	*) die "unknown arch '$1' (want amd64 or arm64)" ;;
	esac
}

# A private apt state per suite+arch: own sources.list, lists and archive cache,
# an empty dpkg status, so the host's /etc/apt and installed packages play no part.
# Sets the global array APT_OPTS.
apt_state() {
	local suite=$1 arch=$2 dir mirror security
	dir=$CACHE/apt/$suite-$arch
	mkdir -p "$dir/lists/partial" "$dir/archives/partial"
	# One user of this state at a time (the kernel and busybox share bookworm's),
	# held until the script exits; the cache is shared by every work tree.
	exec 8>"$dir/apt.lock"
	flock 8
	mirror=$(debian_mirror) || die "no Debian mirror (above)"
	security=$(debian_security_mirror)
	# -security and -updates carry the newest kernel ABI of a released suite;
	# a backports suite has neither (and Error-Mode=any fails on a missing one).
	{
		echo "deb [arch=$arch signed-by=$KEYRING] $mirror $suite main"
		if [[ $suite == *-backports ]]; then
			security=''
		else
			echo "deb [arch=$arch signed-by=$KEYRING] $mirror $suite-updates main"
			if [ -n "$security" ]; then
				echo "deb [arch=$arch signed-by=$KEYRING] $security $suite-security main"
			else
				log "no security archive in the apt sources: $suite-security not searched"
			fi
		fi
	} >"$dir/sources.list.tmp"
	mv "$dir/sources.list.tmp" "$dir/sources.list"
	log "mirror $mirror${security:+, security $security}"
	APT_OPTS=(
		-o "Dir::Etc::sourcelist=$dir/sources.list"
		-o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$dir/lists"
		-o Dir::State::status=/dev/null
		-o "Dir::Cache=$dir"
		-o Dir::Cache::pkgcache=
		-o Dir::Cache::srcpkgcache=
		-o "APT::Architecture=$arch"
		-o "APT::Architectures=$arch"
	)
}

# Error-Mode=any: by default a failed index download is only a warning, and stale
# lists would silently resolve an old kernel.
apt_update() {
	log "apt-get update ($1 $2)"
	apt-get -q -o APT::Update::Error-Mode=any "${APT_OPTS[@]}" update >&2 || die "apt-get update failed for $1 $2"
}

# Download package $1 into a fresh directory under $2 and echo the .deb's path.
# The directory belongs to _apt so apt's download sandbox can write there.
download() {
	local pkg=$1 parent=$2 tmp
	tmp=$(mktemp -d "$parent/dl.XXXXXX")
	if getent passwd _apt >/dev/null; then chown _apt "$tmp"; fi
	log "apt-get download $pkg"
	(cd "$tmp" && apt-get -q "${APT_OPTS[@]}" download "$pkg" >&2) ||
		{ rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	set -- "$tmp"/*.deb
	[ -f "$1" ] || { rm -rf "$tmp"; die "no .deb for $pkg in $tmp"; }
	echo "$1"
}

# Debian's two layouts of a kernel ABI, told apart by what linux-image-ABI
# depends on; prints "VMLINUZ_PACKAGE VMLINUZ_PATH MODULES_PACKAGE":
# - to 6.18, linux-image-ABI holds ./boot/vmlinuz-ABI and the modules;
# - from 6.19, linux-image-ABI is a 2 KB package that depends on
#   linux-binary-ABI (./usr/lib/modules/ABI/vmlinuz) and linux-modules-ABI.
kernel_layout() {
	local ver=$1 deps
	deps=$(apt-cache "${APT_OPTS[@]}" depends "linux-image-$ver" |
		awk '$1 ~ /Depends:$/ { print $2 }') || die "apt-cache depends linux-image-$ver failed"
	if grep -qx "linux-binary-$ver" <<<"$deps"; then
		grep -qx "linux-modules-$ver" <<<"$deps" ||
			die "linux-image-$ver depends on linux-binary-$ver but not on linux-modules-$ver"
		echo "linux-binary-$ver ./usr/lib/modules/$ver/vmlinuz linux-modules-$ver"
	else
		echo "linux-image-$ver ./boot/vmlinuz-$ver linux-image-$ver"
	fi
}

# Resolve, download and extract the kernel; record it in the marker file.
fetch_kernel() {
	local suite=$1 arch=$2 kdir pkg ver deb img layout vpkg vpath
	kdir=$CACHE/kernels/$suite-$arch
	mkdir -p "$kdir"
	# Serialise concurrent fetches of the same suite.
	exec 9>"$kdir/lock"
	flock 9
	apt_state "$suite" "$arch"
	apt_update "$suite" "$arch"
	# The meta package depends on the current ABI package, e.g. linux-image-6.1.0-41-amd64.
	pkg=$(apt-cache "${APT_OPTS[@]}" depends "linux-image-$arch" |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') ||
		die "apt-cache depends linux-image-$arch failed"
	[ -n "$pkg" ] || die "linux-image-$arch in $suite names no linux-image-* package"
	ver=${pkg#linux-image-}
	img=$kdir/vmlinuz-$ver
	if [ -f "$img" ]; then
		log "$suite $arch: $pkg already cached"
	else
		layout=$(kernel_layout "$ver")
		read -r vpkg vpath _ <<<"$layout"
		deb=$(download "$vpkg" "$kdir")
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "${deb%/*}" "$vpath" ||
			{ rm -rf "${deb%/*}"; die "no $vpath in $deb"; }
		# A rename within the cache: readers see the whole file or none.
		mv "${deb%/*}/$vpath" "$img"
		rm -rf "${deb%/*}"
	fi
	# Write the marker atomically, then drop superseded kernels.
	echo "$img" >"$kdir/current.tmp"
	mv "$kdir/current.tmp" "$kdir/current"
	find "$kdir" -maxdepth 1 -name 'vmlinuz-*' ! -name "vmlinuz-$ver" -delete
	log "$suite $arch: $pkg"
	echo "$img"
}

# Fast path: a cached kernel is answered from the marker without any network access.
cmd_fetch() {
	local suite=$1 arch=${2:-amd64} marker img
	check_suite "$suite"
	check_arch "$arch"
	marker=$CACHE/kernels/$suite-$arch/current
	if [ -f "$marker" ]; then
		read -r img <"$marker"
		if [ -f "$img" ]; then
			echo "$img"
			return
		fi
		log "marker $marker names missing $img; fetching again"
	fi
	fetch_kernel "$suite" "$arch"
}

cmd_refresh() {
	local suite=$1 arch=${2:-amd64}
	check_suite "$suite"
	check_arch "$arch"
	fetch_kernel "$suite" "$arch"
}

cmd_busybox() {
	local arch=$1 dir deb bb
	check_arch "$arch"
	if [ "$arch" = amd64 ]; then
		[ "$(dpkg --print-architecture)" = amd64 ] || die "host is not amd64"
		dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
			die "busybox-static is not installed (apt-get install busybox-static)"
		[ -x /bin/busybox ] || die "/bin/busybox missing"
		echo /bin/busybox
		return
	fi
	dir=$CACHE/busybox/$arch
	bb=$dir/busybox
	if [ -x "$bb" ]; then
		echo "$bb"
		return
	fi
	mkdir -p "$dir"
	exec 9>"$dir/lock"
	flock 9
	# Bookworm's busybox-static, through the same private apt state as its kernel.
	apt_state bookworm "$arch"
	apt_update bookworm "$arch"
	deb=$(download "busybox-static:$arch" "$dir")
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "${deb%/*}" --wildcards './*bin/busybox' ||
		{ rm -rf "${deb%/*}"; die "no busybox binary in $deb"; }
	set -- "${deb%/*}"/*bin/busybox
	[ -x "$1" ] || { rm -rf "${deb%/*}"; die "busybox not extracted from $deb"; }
	mv "$1" "$bb.tmp"
	mv "$bb.tmp" "$bb"
	rm -rf "${deb%/*}"
	log "busybox $arch: $bb"
	echo "$bb"
}

# The modules of the kernel (e.g. sctp, for the tests that prove tcpaccept
# does not show SCTP accepts) come from its own package (kernel_layout);
# kmods.py works out what each one needs.
cmd_modules() {
	local suite=$1 arch=$2 mod=$3 img kdir ver mdir deb layout mpkg
	check_suite "$suite"
	check_arch "$arch"
	[[ $mod =~ ^[a-z0-9_]+$ ]] || die "bad module name '$mod'"
	img=$(cmd_fetch "$suite" "$arch")
	kdir=${img%/*}
	ver=${img##*/vmlinuz-}
	mdir=$kdir/modules-$ver/$mod
	if [ -f "$mdir/load-order" ]; then
		echo "$mdir"
		return
	fi
	exec 9>"$kdir/lock"
	flock 9
	apt_state "$suite" "$arch"
	apt_update "$suite" "$arch"
	layout=$(kernel_layout "$ver")
	read -r _ _ mpkg <<<"$layout"
	deb=$(download "$mpkg" "$kdir")
	rm -rf "$mdir" "$mdir.tmp"
	/usr/bin/python3 "$(dirname "$0")/kmods.py" "$deb" "$mod" "$mdir.tmp" ||
		{ rm -rf "${deb%/*}" "$mdir.tmp"; die "cannot take $mod out of $deb"; }
	mv "$mdir.tmp" "$mdir"
	rm -rf "${deb%/*}"
	# A kernel that moved on leaves its modules behind.
	find "$kdir" -maxdepth 1 -name 'modules-*' ! -name "modules-$ver" -exec rm -rf {} +
	log "$suite $arch: $mod needs $(tr '\n' ' ' <"$mdir/load-order")"
	echo "$mdir"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
list) [ $# -le 1 ] || usage; cmd_list "$@" ;;
fetch) [[ $# == [12] ]] || usage; cmd_fetch "$@" ;;
refresh) [[ $# == [12] ]] || usage; cmd_refresh "$@" ;;
busybox) [ $# -eq 1 ] || usage; cmd_busybox "$1" ;;
modules) [ $# -eq 3 ] || usage; cmd_modules "$@" ;;
*) usage ;;
esac
