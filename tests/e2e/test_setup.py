# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""The set-up the README promises: make run and make test as root without
sudo, make help, and install-deps.sh's message to a user who is not root."""
import os
import re
import subprocess

from tests.lib import ROOT
from tests.lib.host import readme


def test_readme_setup_works_as_root_without_sudo():
    setup = readme().split("\n## Set-up\n")[1].split("\n## ")[0]
    block = setup.split("```\n")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert "make run" in commands and "make test" in commands, block
    assert not [c for c in commands if c.startswith("sudo")], block
    prose = " ".join(setup.split("```")[2].split())
    assert "as root, type them as they are, without `sudo`" in prose, prose
    assert "as another user, `sudo make run` and `sudo make test`" in prose, prose
    # Nowhere in the README is sudo the only way to run make.
    for line in readme().splitlines():
        assert not line.startswith("sudo make"), line


def test_make_help_says_root_or_sudo():
    res = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "help"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert any(re.match(r"make run +install missing build packages", l) for l in lines), lines
    assert any(re.match(r"make test +install what the tests need", l) for l in lines), lines
    text = " ".join(res.stdout.split())
    assert "as root, type them as they are; as another user, sudo make run, sudo make test" in text
    assert "make help this list" in text


def test_install_deps_says_how_to_get_root():
    # The real script, as a user who is not root, with one package it cannot
    # find installed (the copy differs from it in that list only).
    # (On stdin: nobody cannot read files under pytest's tmp_path.)
    with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
        script = f.read()
    copy, n = re.subn(r'^build="[^"]*"', 'build="tcpaccept-no-such-package"', script, flags=re.M)
    assert n == 1, "install-deps.sh has no build= line"
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "sh", "-s", "build"], input=copy, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1, res
    assert res.stderr == ("install-deps: missing packages: tcpaccept-no-such-package; installing "
                          "them needs root: as root, run the same make command again as it is; as "
                          "another user, put sudo before it (sudo make test)\n"), res.stderr
