# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""What the tests share, one home per job: where the things under test are
(here, and the tree's files), what their output must say (checks.py: the host and VM tests) and
how they are run on this host (host.py: the host and package tests).

Run pytest from the top of the tree: `python3 -m pytest tests/e2e`."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# What make builds: the binary at the top, the rest under .output/, a
# foreign architecture's under .output/ARCH (make ARCH=arm64).
OUTPUT = os.path.join(ROOT, ".output")
# TCPACCEPT=path runs the tests against another build (make sanitize).
TCPACCEPT = os.environ.get("TCPACCEPT") or os.path.join(ROOT, "tcpaccept")
# The test peer (tests/peer/tcppeer.c): what it prints is the ground truth.
PEER_NAME = "tcppeer"
PEER = os.path.join(OUTPUT, PEER_NAME)
# --btf's test file: this kernel's BTF cut down to what tcpaccept reads.
MIN_BTF = os.path.join(OUTPUT, "tcpaccept.min.btf")


def tree_files(root):
    """The files that make up the tree: git's list (tracked, and new ones not
    ignored) in a clone, else everything but build output."""
    res = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True)
    if res.returncode == 0:
        names = [n for n in res.stdout.decode().split("\0") if n]
        return sorted(n for n in names if os.path.lexists(os.path.join(root, n)))
    skip = {".git", ".output", "__pycache__", ".pytest_cache"}
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in skip]
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root)
            if rel != "tcpaccept":
                out.append(rel)
    return sorted(out)
