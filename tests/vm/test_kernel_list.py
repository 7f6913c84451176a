# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""The README's "Supported kernels" table names the kernels the VM tests
boot, tests/vm/kernels.list, one row each in the list's order, and claims
fexit where the tests expect it. No VM is booted here."""
import os
import re

from tests.lib import ROOT
from tests.vm.test_vm import KERNELS, has_fexit

# "| Debian 13 trixie-backports, 7.3 (x86_64, qemu) | yes (...) | ..."
ROW_RE = re.compile(r"^\| Debian \d+ ([a-z-]+), (\d+\.\d+) \((x86_64|arm64), qemu\) \| ([^|]+) \|")
DEB_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def readme_rows():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("\n### Supported kernels\n")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table and table[0].startswith("| kernel | fexit |"), table
    vm_rows = [line for line in table if "qemu)" in line]
    rows = [ROW_RE.match(line) for line in vm_rows]
    assert all(rows), [line for line, m in zip(vm_rows, rows) if not m]
    return [(m.group(1), DEB_ARCH[m.group(3)], m.group(2), m.group(4).strip()) for m in rows]


def test_readme_table_lists_the_kernel_list():
    rows = readme_rows()
    assert [r[:3] for r in rows] == list(KERNELS.values()), (
        "README.md's Supported kernels table and tests/vm/kernels.list differ", rows)
    for (suite, arch, series, fexit), name in zip(rows, KERNELS):
        assert fexit.startswith("yes" if has_fexit(name) else "refused"), (name, fexit)


def test_kernel_list_is_read_whole():
    # Every kernel line of the file reaches the tests (a line the reader
    # dropped would leave its kernel untested without a word).
    with open(os.path.join(ROOT, "tests", "vm", "kernels.list")) as f:
        lines = [l.split() for l in f if l.split() and not l.startswith("#")]
    assert [tuple(l) for l in lines] == list(KERNELS.values())
    assert {a for _, a, _ in KERNELS.values()} == {"amd64", "arm64"}
