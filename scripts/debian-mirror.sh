# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=sh
# Where this machine gets Debian packages from: read from its own apt sources,
# so that the repository names no mirror and a host behind its own mirror or
# proxy fetches from there. Sourced (POSIX sh) by tests/vm/kernels.sh and
# scripts/install-arm64-deps.sh:
#
#   debian_mirror            the Debian archive's URI (the one serving SUITE main)
#   debian_security_mirror   the security archive's URI; empty if apt has none
#   debian_sources           every enabled "deb" entry: URI SUITE ARCHS FILE
#
# The environment overrides apt: TCPACCEPT_DEBIAN_MIRROR=URI, and
# TCPACCEPT_DEBIAN_SECURITY_MIRROR=URI (set and empty: no security suite).
# Both formats of apt's sources are read: the one-line "deb [opts] URI SUITE
# COMPONENT..." of sources.list and *.list, and the deb822 stanzas (Types:,
# URIs:, Suites:, Enabled:, Architectures:) of *.sources. The files are those
# apt-config names (Dir::Etc::sourcelist, Dir::Etc::sourceparts), so
# APT_CONFIG points this at another configuration as it does apt.

# Debian's code names and aliases: what tells a Debian entry from another
# distribution's or a third-party repository's (no Release file is needed,
# so this works before the first apt-get update).
DEBIAN_SUITES="buster bullseye bookworm trixie forky duke sid oldoldstable oldstable stable testing unstable"

# The sources files apt reads, one per line, in apt's order.
debian_source_files() {
	_dm_list=/etc/apt/sources.list _dm_parts=/etc/apt/sources.list.d
	if command -v apt-config >/dev/null 2>&1; then
		eval "$(apt-config shell _dm_list Dir::Etc::sourcelist/f _dm_parts Dir::Etc::sourceparts/d)"
	fi
	[ ! -f "$_dm_list" ] || echo "$_dm_list"
	for _dm_f in "${_dm_parts%/}"/*.list "${_dm_parts%/}"/*.sources; do
		[ ! -f "$_dm_f" ] || echo "$_dm_f"
	done
}

# One line per (URI, suite) of an enabled binary ("deb") entry:
# URI SUITE ARCHS FILE, ARCHS a comma-separated list or "-" (no restriction).
debian_sources() {
	debian_source_files | while IFS= read -r _dm_f; do
		case $_dm_f in
		*.sources) debian_sources_deb822 "$_dm_f" ;;
		*) debian_sources_oneline "$_dm_f" ;;
		esac
	done
}

debian_sources_oneline() {
	awk -v file="$1" '
	{ sub(/#.*/, "") }
	$1 != "deb" { next }
	{
		line = $0; archs = "-"
		# Options: [ key=value ... ]; only arch= matters here.
		if (match(line, /\[[^]]*\]/)) {
			opts = substr(line, RSTART + 1, RLENGTH - 2)
			line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
			n = split(opts, o, /[ \t]+/)
			for (i = 1; i <= n; i++)
				if (o[i] ~ /^arch=/) archs = substr(o[i], 6)
		}
		n = split(line, w, /[ \t]+/)
		k = 0
		for (i = 1; i <= n; i++) if (w[i] != "") v[++k] = w[i]
		if (k >= 3) print v[2], v[3], archs, file
	}' "$1"
}

debian_sources_deb822() {
	awk -v file="$1" '
	function add(f, v) {
		gsub(/[ \t]+/, " ", v); sub(/^ /, "", v); sub(/ $/, "", v)
		if (f == "types") types = types " " v
		else if (f == "uris") uris = uris " " v
		else if (f == "suites") suites = suites " " v
		else if (f == "enabled") enabled = tolower(v)
		else if (f == "architectures") archs = archs " " v
	}
	function flush(   nu, ns, u, s, i, j, a) {
		a = archs; sub(/^ /, "", a); gsub(/ /, ",", a)
		if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|off|0)$/) {
			nu = split(uris, u, / +/); ns = split(suites, s, / +/)
			for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
				if (u[i] != "" && s[j] != "")
					print u[i], s[j], (a == "" ? "-" : a), file
		}
		types = uris = suites = enabled = field = archs = ""
	}
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	# A continuation line belongs to the field above.
	/^[ \t]/ { add(field, $0); next }
	{
		field = tolower(substr($0, 1, index($0, ":") - 1))
		add(field, substr($0, index($0, ":") + 1))
	}
	END { flush() }' "$1"
}

# The first entry whose suite is a Debian one with the given ending
# ("" for SUITE itself, "-updates", "-security"); prints URI SUITE ARCHS FILE.
debian_entry() {
	debian_sources | awk -v want="$1" -v names="$DEBIAN_SUITES" '
	BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) known[a[i]] = 1 }
	{
		s = $2; end = ""
		if (match(s, /-(security|updates|backports|proposed-updates)$/)) {
			end = substr(s, RSTART); s = substr(s, 1, RSTART - 1)
		}
		# No early exit: the writer of the pipe would die of SIGPIPE (pipefail).
		if (known[s] && end == want && !found++) print
	}'
}

# The URI without a trailing slash, so that callers can append "/dists/...".
debian_uri() { sed -n '1{s/ .*//;s,/*$,,;p}'; }

debian_mirror() {
	if [ -n "${TCPACCEPT_DEBIAN_MIRROR:-}" ]; then
		echo "${TCPACCEPT_DEBIAN_MIRROR%/}"
		return 0
	fi
	_dm_uri=$( (debian_entry ""; debian_entry -updates) | debian_uri)
	if [ -z "$_dm_uri" ]; then
		printf '%s\n' "debian-mirror: no Debian archive (a deb entry for one of: $DEBIAN_SUITES) in the apt sources:" \
			"  files read: $(debian_source_files | tr '\n' ' ')" \
			"  set TCPACCEPT_DEBIAN_MIRROR=URI (the archive's root, as on a deb line)" >&2
		return 1
	fi
	echo "$_dm_uri"
}

debian_security_mirror() {
	if [ -n "${TCPACCEPT_DEBIAN_SECURITY_MIRROR+set}" ]; then
		echo "${TCPACCEPT_DEBIAN_SECURITY_MIRROR%/}"
		return 0
	fi
	debian_entry -security | debian_uri
}
