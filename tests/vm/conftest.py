# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
import sys

import pytest

# (kernel, way in) -> "pass"/"fail", for the matrix printed at the end.
MATRIX = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "kernel" not in params or report.when not in ("setup", "call"):
        return
    way = params.get("way", "fexit" if item.originalname == "test_fexit_refused_where_unsupported"
                     else "auto")
    key = (params["kernel"], way)
    if report.failed:
        MATRIX[key] = "fail"
    elif report.when == "call":
        refused = item.originalname == "test_fexit_refused_where_unsupported"
        MATRIX.setdefault(key, "refused by the kernel, as expected" if refused else "pass")


def pytest_terminal_summary(terminalreporter):
    if not MATRIX:
        return
    test_vm = sys.modules.get("tests.vm.test_vm")
    retried = getattr(test_vm, "RETRIED", set())
    skipped = getattr(test_vm, "SKIPPED", {})
    # The release each VM booted: a suite's newest kernel moves on.
    releases = getattr(test_vm, "RELEASES", {})
    terminalreporter.write_sep("=", "kernel matrix (Debian kernels under qemu)")
    for (kernel, way), result in sorted(MATRIX.items()):
        note = " (its VM hung once and was booted again)" if kernel in retried else ""
        if skipped.get((kernel, way)):
            note += (f" (the kernel skipped {skipped[(kernel, way)]} runs of its programs,"
                     " as counted: recursion_misses)")
        release = releases.get(kernel, "(did not boot)")
        terminalreporter.write_line(
            f"vm-matrix {kernel:<22} {release:<22} {way:<10} {result}{note}")
    for kernel, seconds in getattr(test_vm, "SECONDS", {}).items():
        terminalreporter.write_line(f"vm-time {kernel:<22} {seconds:6.0f} s (fetch, boot, every case)")
