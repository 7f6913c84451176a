# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Where Debian packages come from: this machine's apt sources, never the
repository. No script, make file, test or source file holds an http(s)
URL (the prose may), no file names a mirror, and scripts/debian-mirror.sh
reads both formats of apt's sources, with the environment overriding them,
all the way into the apt sources that tests/vm/kernels.sh writes."""
import os
import re
import subprocess

import pytest

from tests.lib import ROOT, tree_files

LIB = os.path.join(ROOT, "scripts", "debian-mirror.sh")
KERNELS = os.path.join(ROOT, "tests", "vm", "kernels.sh")
# Built from pieces, so that this file does not match itself. A loopback
# URL (a test's own server on 127.0.0.1, ::1 or localhost) fetches nothing
# from outside: it is not what this check is about.
LOOPBACK = r"(?:127\.0\.0\.1|\[::1\]|localhost)(?![\w.-])"
URL_RE = re.compile("http" + rf"s?://(?!{LOOPBACK})\S+")
MIRROR_RE = re.compile(
    r"\b(?:deb|ftp(?:\.[a-z]{2})?|security|snapshot|archive|httpredir|cdn-fastly\.deb|mirrors?)"
    r"\.debian\.(?:org|net)\b"
    r"|\b(?:[a-z]{2}\.)?(?:archive|security|ports|old-releases)\.ubuntu\.com\b", re.I)
DOCS = (".md", ".txt", ".8")
DOC_FILES = {"LICENSE", "debian/copyright", "debian/control", "debian/changelog"}


def is_code(name):
    """A script, a make file, a test, a source file: anything but prose."""
    return name not in DOC_FILES and not name.endswith(DOCS)


def read(name):
    with open(os.path.join(ROOT, name), "rb") as f:
        return f.read().decode(errors="replace")


def test_no_url_in_code():
    names = [n for n in tree_files(ROOT) if is_code(n)]
    # The list is not empty by accident: the scripts that fetch are in it.
    assert {"tests/vm/kernels.sh", "scripts/install-arm64-deps.sh", "Makefile", "tests/tests.mk",
            "debian/rules", "tests/package/test_sources.py", "tcpaccept.c"} <= set(names)
    assert not {"README.md", "LICENSE", "debian/copyright"} & set(names)
    found = [f"{n}: {m.group(0)}" for n in names for m in URL_RE.finditer(read(n))]
    assert found == [], found


def test_no_mirror_host_anywhere():
    found = [f"{n}: {m.group(0)}" for n in tree_files(ROOT)
             for m in MIRROR_RE.finditer(read(n))]
    assert found == [], found


def test_patterns_find_what_they_look_for():
    # The two checks above would pass on anything if their patterns were wrong.
    host = "deb" + ".debian.org"
    assert MIRROR_RE.search("URIs: " + "http" + f"://{host}/debian")
    assert MIRROR_RE.search("ftp" + ".de.debian.org") and MIRROR_RE.search("archive" + ".ubuntu.com")
    assert not MIRROR_RE.search("www" + ".debian.org")
    assert URL_RE.search("MIRROR=" + "http" + "://example.invalid")
    assert URL_RE.search("http" + "s://127.0.0.1.example.invalid/x")
    for loopback in ("127.0.0.1:9100/metrics", "[::1]:9090/", "localhost/", "127.0.0.1"):
        assert not URL_RE.search("http" + "://" + loopback), loopback


# --- scripts/debian-mirror.sh ------------------------------------------------

# Mirrors in file: URIs: the scheme plays no part here, and tests hold no
# http(s) URL (test_no_url_in_code).
ONE_LINE = """\
# a comment; deb file:/srv/commented/debian bookworm main
deb-src file:/srv/source-only/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] file:/srv/third-party/repo nodistro main
deb [ arch=amd64,arm64 ] file:/srv/mirror-a/debian/ bookworm main contrib
deb file:/srv/mirror-a/debian bookworm-updates main
deb file:/srv/security-a/debian-security bookworm-security main
"""
DEB822 = """\
Types: deb
URIs: file:/srv/third-party/repo
Suites: nodistro
Components: main

# disabled
Types: deb
URIs: file:/srv/disabled/debian
Suites: trixie
Components: main
Enabled: no

Types: deb-src deb
URIs: file:/srv/mirror-b/debian
 file:/srv/mirror-c/debian
Suites: trixie
 trixie-updates
Components: main
Architectures: amd64
 arm64

types: deb
uris: mirror+file:/etc/apt/mirrors/debian-security.list
suites: trixie-security
components: main
"""


def apt_config(tmp_path, one_line=None, deb822=None):
    """An apt configuration whose sources are the given texts."""
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    if deb822 is not None:
        (parts / "debian.sources").write_text(deb822)
    if one_line is not None:
        (tmp_path / "sources.list").write_text(one_line)
    conf = tmp_path / "apt.conf"
    conf.write_text(f'Dir::Etc::sourcelist "{tmp_path / "sources.list"}";\n'
                    f'Dir::Etc::sourceparts "{parts}";\n')
    return str(conf)


def lib(conf, call, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("TCPACCEPT_DEBIAN")}
    full.update(env, APT_CONFIG=conf)
    # dash, as /bin/sh scripts source it; bash -eu -o pipefail, as kernels.sh does.
    out = []
    for shell in (["dash", "-c"], ["bash", "-euo", "pipefail", "-c"]):
        res = subprocess.run([*shell, f'. "{LIB}"; {call}'], env=full, capture_output=True,
                             text=True, timeout=30)
        out.append((res.returncode, res.stdout, res.stderr))
    assert out[0][:2] == out[1][:2], out
    return out[0]


@pytest.mark.parametrize("fmt", ["one-line", "deb822", "both"])
def test_mirror_from_apt_sources(tmp_path, fmt):
    conf = apt_config(tmp_path, ONE_LINE if fmt != "deb822" else None,
                      DEB822 if fmt != "one-line" else None)
    # apt reads sources.list before sources.list.d: with both, it comes first.
    want = {"one-line": ("file:/srv/mirror-a/debian", "file:/srv/security-a/debian-security"),
            "deb822": ("file:/srv/mirror-b/debian",
                       "mirror+file:/etc/apt/mirrors/debian-security.list"),
            "both": ("file:/srv/mirror-a/debian", "file:/srv/security-a/debian-security")}
    rc, out, err = lib(conf, 'echo "$(debian_mirror) $(debian_security_mirror)"')
    assert (rc, out.split()) == (0, list(want[fmt])), err


def test_deb822_entries_in_full(tmp_path):
    conf = apt_config(tmp_path, deb822=DEB822)
    rc, out, err = lib(conf, "debian_sources")
    src = str(tmp_path / "sources.list.d" / "debian.sources")
    assert rc == 0, err
    assert out.splitlines() == [
        f"file:/srv/third-party/repo nodistro - {src}",
        f"file:/srv/mirror-b/debian trixie amd64,arm64 {src}",
        f"file:/srv/mirror-b/debian trixie-updates amd64,arm64 {src}",
        f"file:/srv/mirror-c/debian trixie amd64,arm64 {src}",
        f"file:/srv/mirror-c/debian trixie-updates amd64,arm64 {src}",
        f"mirror+file:/etc/apt/mirrors/debian-security.list trixie-security - {src}",
    ]


def test_environment_overrides(tmp_path):
    conf = apt_config(tmp_path, ONE_LINE)
    rc, out, _ = lib(conf, 'echo "$(debian_mirror)|$(debian_security_mirror)"',
                     TCPACCEPT_DEBIAN_MIRROR="file:/srv/proxy/debian/",
                     TCPACCEPT_DEBIAN_SECURITY_MIRROR="")
    assert (rc, out) == (0, "file:/srv/proxy/debian|\n")


def test_no_debian_source_is_an_error(tmp_path):
    conf = apt_config(tmp_path, "deb file:/srv/third-party/repo nodistro main\n")
    rc, out, err = lib(conf, "debian_mirror")
    assert rc == 1 and out == "" and "TCPACCEPT_DEBIAN_MIRROR" in err, err
    rc, out, _ = lib(conf, 'echo "[$(debian_security_mirror)]"')
    assert (rc, out) == (0, "[]\n")


def test_kernels_sh_fetches_from_the_configured_mirror(tmp_path):
    """kernels.sh writes what the apt configuration says into its private
    apt sources; the mirror does not exist, so apt-get update then fails
    (the first network access) and nothing is downloaded."""
    conf = apt_config(tmp_path, "deb file:///nonexistent/debian bookworm main\n")
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCPACCEPT_")}
    env.update(APT_CONFIG=conf, TCPACCEPT_CACHE=str(cache))
    res = subprocess.run([KERNELS, "refresh", "bullseye", "arm64"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "apt-get update failed for bullseye arm64" in res.stderr, \
        res.stderr
    assert "no security archive in the apt sources: bullseye-security not searched" in res.stderr
    key = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    assert (cache / "apt/bullseye-arm64/sources.list").read_text().splitlines() == [
        f"deb [arch=arm64 {key}] file:///nonexistent/debian bullseye main",
        f"deb [arch=arm64 {key}] file:///nonexistent/debian bullseye-updates main",
    ]


def test_kernels_sh_backports_suite_has_no_twins(tmp_path):
    """A backports suite has no -updates or -security suite: kernels.sh
    asks for the suite alone (apt-get update fails on any missing index)."""
    conf = apt_config(tmp_path, ONE_LINE)
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCPACCEPT_")}
    env.update(APT_CONFIG=conf, TCPACCEPT_CACHE=str(cache))
    res = subprocess.run([KERNELS, "refresh", "trixie-backports", "arm64"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "apt-get update failed for trixie-backports arm64" in \
        res.stderr, res.stderr
    assert "-security not searched" not in res.stderr and "security " not in res.stderr
    key = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    assert (cache / "apt/trixie-backports-arm64/sources.list").read_text().splitlines() == [
        f"deb [arch=arm64 {key}] file:/srv/mirror-a/debian trixie-backports main"]
