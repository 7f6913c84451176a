# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""make install and make uninstall: the files where distributions expect
them (DESTDIR, prefix), and nothing left behind. The Debian package:
test_deb.py."""
import os
import subprocess

from tests.lib import ROOT


def test_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    make = ["make", "-C", ROOT, "--no-print-directory", f"DESTDIR={dest}", "prefix=/usr"]
    subprocess.run(make + ["install"], check=True, capture_output=True)
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["usr/lib/systemd/system/tcpaccept.service", "usr/sbin/tcpaccept",
                     "usr/share/doc/tcpaccept/tcpaccept_example.txt",
                     "usr/share/man/man8/tcpaccept.8"], files
    unit = (dest / "usr/lib/systemd/system/tcpaccept.service").read_text()
    assert "\nExecStart=/usr/sbin/tcpaccept --metrics=" in unit, unit
    assert os.access(dest / "usr/sbin/tcpaccept", os.X_OK)
    subprocess.run(make + ["uninstall"], check=True, capture_output=True)
    assert [p for p in dest.rglob("*") if p.is_file()] == []
