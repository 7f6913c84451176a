# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""The documentation says what the code does: --help, the man page and the
README list the same options (an option's hidden earlier name aside); the
man page renders without warnings."""
import os
import re
import subprocess

from tests.lib import ROOT, TCPACCEPT
from tests.lib.host import readme, run_tcpaccept as run

MAN = os.path.join(ROOT, "tcpaccept.8")
# Options kept under an earlier name for existing users: accepted, hidden
# from --help, so the docs need not list them as options; the man page
# names each once, in the entry of the option it stands for.
HIDDEN_ALIASES = {"backend": "way"}


def help_options():
    out = subprocess.run([TCPACCEPT, "--help"], capture_output=True, text=True,
                         check=True).stdout
    short, long = set(), set()
    for m in re.finditer(r"^\s+(?:-(\w), )?--([\w-]+)", out, re.M):
        if m.group(1):
            short.add(m.group(1))
        long.add(m.group(2))
    return short, long


def man_options():
    with open(MAN) as f:
        text = f.read()
    section = text.split("\n.SH OPTIONS\n")[1].split("\n.SH ")[0]
    short, long = set(), set()
    for line in section.splitlines():
        if not line.startswith(".BR "):
            continue
        long |= set(re.findall(r"\\-\\-(\w[\w\\-]*)", line))
        short |= set(re.findall(r"(?<![\\-])\\-(\w)\b", line.replace("\\-\\-", "  ")))
    return short, {name.replace("\\-", "-") for name in long}


def test_help_and_man_page_list_the_same_options():
    h_short, h_long = help_options()
    m_short, m_long = man_options()
    assert len(h_long) >= 20, h_long
    assert h_long == m_long, (h_long ^ m_long)
    assert h_short == m_short, (h_short ^ m_short)


def test_readme_and_synopsis_name_every_option():
    h_short, h_long = help_options()
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    missing = [o for o in h_long if f"--{o}" not in readme]
    assert not missing, f"README lacks {missing}"
    with open(MAN) as f:
        synopsis = f.read().split(".SH SYNOPSIS")[1].split(".SH DESCRIPTION")[0]
    for s in h_short - {"h", "V"}:
        assert f"\\-{s}" in synopsis, f"-{s} not in the man page's SYNOPSIS"


def test_hidden_aliases_are_hidden_and_explained():
    _, h_long = help_options()
    _, m_long = man_options()
    with open(MAN) as f:
        entries = f.read().split("\n.SH OPTIONS\n")[1].split("\n.SH ")[0].split("\n.TP\n")
    for alias, option in HIDDEN_ALIASES.items():
        assert option in h_long and alias not in h_long, h_long
        assert alias not in m_long, f"the man page lists --{alias} as an option of its own"
        [entry] = [e for e in entries if re.match(rf"\.BR .*\\-\\-{option}\b", e)]
        assert f"\n.B \\-\\-{alias}\n" in entry, entry
        assert sum(e.count(f"\\-\\-{alias}") for e in entries) == 1, "named more than once"


def test_man_page_renders_without_warnings():
    res = subprocess.run(["groff", "-ww", "-z", "-man", MAN], capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    res = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                         env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80"})
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert "tcpaccept - trace successful TCP accept()s" in res.stdout


def test_docs_say_what_minus_4_means():
    help_text = run("--help").stdout.decode()
    block = help_text.split("  -4, --ipv4")[1].split("\n  -6")[0]
    assert "sockets only" in block and "dual-stack" in block and "--client-family" in block, block
    with open(os.path.join(ROOT, "tcpaccept.8")) as f:
        man = f.read()
    section = man.split('.BR \\-4 ", " \\-\\-ipv4\n')[1].split(".TP")[0]
    assert "dual\\-stack" in section and "client\\-family" in section, section
    text = " ".join(readme().split())
    assert "-4, --ipv4 Trace IPv4 sockets only, as bcc's -4: an IPv4 client of a dual-stack" in text
    with open(os.path.join(ROOT, "tcpaccept_example.txt")) as f:
        example = f.read()
    assert "# ./tcpaccept --client-family=4\n" in example
