# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: what a new user meets in the first five minutes
(issue 16): the set-up as root without sudo, -4 and dual-stack listeners
(--client-family), lines without trailing blanks, -p of a process that is
not there, "Try --help", -c on a terminal, -P ranges, -C on cgroup v1."""
import errno
import os
import pty
import random
import re
import select
import signal
import socket
import subprocess
import threading
import time

from harness import ROOT, STARTED, TCPACCEPT, Tracer, die_with_pytest, free_port, peer
from tcpaccept_testlib import LOST_RE, check_rows, parse_count_table, parse_rows

TRY_HELP = "Try 'tcpaccept --help' for more information.\n"


def run(*args, timeout=10, **kw):
    return subprocess.run([TCPACCEPT, *args], capture_output=True, timeout=timeout, **kw)


def no_bpf_calls(tmp_path, *args):
    """Runs tcpaccept under strace; returns (result, the bpf() and
    perf_event_open() calls it made)."""
    trace = tmp_path / "strace"
    res = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf,perf_event_open",
                          "-o", str(trace), TCPACCEPT, *args], capture_output=True, timeout=10)
    calls = [l for l in trace.read_text().splitlines() if "bpf(" in l or "perf_event_open(" in l]
    return res, calls


# --- 3. no trailing blanks --------------------------------------------------------

def small_free_port():
    """A free port below 10000: LPORT is then shorter than its column."""
    for _ in range(1000):
        port = random.randrange(2000, 10000)
        try:
            for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                with socket.socket(family) as s:
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
        except OSError:
            continue
        return port
    raise AssertionError("no free port below 10000")


COLUMN_LAYOUTS = [[], ["-t", "-T", "-U"], ["--print-proto"], ["-w"], ["-q"], ["-q", "-w"]]
TABLE_LAYOUTS = [["-c"], ["-c", "--print-proto", "-w"], ["-c", "-q"], ["-c", "-i", "1"]]


def test_no_line_ends_in_a_blank_and_grep_port_dollar_works():
    port = small_free_port()
    tracers = [Tracer(*opts, "-P", str(port)) for opts in COLUMN_LAYOUTS]
    tables = [Tracer(*opts, "-P", str(port), "-v", ready_on_stderr=True) for opts in TABLE_LAYOUTS]
    ready, accepts = peer("--port", str(port), "--count", "3")
    ready6, accepts6 = peer("--port", str(port), "--count", "2", "--family", "6")
    time.sleep(1.2)     # one -i 1 table at least
    for opts, t in zip(COLUMN_LAYOUTS + TABLE_LAYOUTS, tracers + tables):
        out, err, rc = t.stop()
        assert rc == 0, (opts, err)
        assert out.count("\n") >= 2, (opts, out)
        for line in out.splitlines():
            assert line == line.rstrip(), (opts, line)
        if "-c" in opts:
            continue
        # The shell user's way: grep ' PORT$' finds every row of the port.
        res = subprocess.run(["grep", "-c", f" {port}$"], input=out.encode(),
                             capture_output=True, timeout=10)
        want = 0 if "-q" in opts else 5     # with -q, WAIT(ms) comes last
        assert int(res.stdout) == want, (opts, out)
        kw = {"wallclock": "-T" in opts, "timestamp": "-t" in opts, "uid": "-U" in opts,
              "queue": "-q" in opts, "wide": "-w" in opts, "proto": "--print-proto" in opts}
        rows = parse_rows(out, **kw)
        check_rows(rows, accepts, ready["pid"])
        check_rows(rows, accepts6, ready6["pid"])
