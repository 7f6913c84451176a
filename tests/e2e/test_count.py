# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: -c, counting in the kernel, with -i and -d.
-c -j: test_json.py; -c -q's histograms: test_metrics.py."""
import re
import subprocess
import time

from tests.lib import TCPACCEPT
from tests.lib.checks import parse_count_table
from tests.lib.host import Tracer, peer


def test_count_table():
    t = Tracer("-c", "-v", ready_on_stderr=True)
    a, _ = peer("--count", "20", "--comm", "busy")
    b, _ = peer("--family", "6", "--count", "5", "--rst", "--comm", "quiet")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_count_table(out.splitlines())
    assert (a["pid"], "busy", 4, "127.0.0.1", a["port"], 20) in rows, out
    assert (b["pid"], "quiet", 6, "::1", b["port"], 5) in rows, out
    counts = [r[5] for r in rows]
    assert counts == sorted(counts, reverse=True), out


def test_count_intervals_and_duration():
    # -i 1 -d 4: a table every second, each headed by the time; the counts
    # of all tables add up to the accepts made; exits by itself.
    start = time.monotonic()
    proc = subprocess.Popen([TCPACCEPT, "-c", "-i", "1", "-d", "4"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(1.0)
    a, _ = peer("--count", "7", "--comm", "first")
    time.sleep(1.2)
    b, _ = peer("--count", "3", "--comm", "second")
    out, err = proc.communicate(timeout=15)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, err
    assert 3.5 < elapsed < 7, elapsed
    tables, cur = [], None
    for line in out.decode().splitlines():
        if re.fullmatch(r"\d\d:\d\d:\d\d", line):
            cur = []
            tables.append(cur)
        elif line:
            cur.append(line)
    assert 3 <= len(tables) <= 5, out
    totals = {}
    for table in tables:
        for pid, comm, *_rest, count in parse_count_table(table):
            totals[(pid, comm)] = totals.get((pid, comm), 0) + count
    assert totals.get((a["pid"], "first")) == 7 and totals.get((b["pid"], "second")) == 3, totals
