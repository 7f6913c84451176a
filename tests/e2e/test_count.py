# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: -c, counting in the kernel, with -i and -d.
-c -j: test_json.py; -c -q's histograms: test_metrics.py."""
import errno
import os
import pty
import re
import select
import signal
import subprocess
import time

from tests.lib import TCPACCEPT
from tests.lib.checks import parse_count_table
from tests.lib.host import STARTED, Tracer, die_with_pytest, free_port, peer, run_tcpaccept as run


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
    # -i 1 -d 8: a table every second, each headed by the time; the counts
    # of all tables add up to the accepts made, those of the second peer
    # in tables after the first's; exits by itself.
    t = Tracer("-v", "-c", "-i", "1", "-d", "8", ready_on_stderr=True)
    a, _ = peer("--count", "7", "--comm", "first")
    t.wait_for(lambda out, err: b" first " in out, 10, "first not in a table")
    b, _ = peer("--count", "3", "--comm", "second")
    out, err, rc = t.stop(sig=None)
    assert rc == 0, err
    tables, cur = [], None
    for line in out.splitlines():
        if re.fullmatch(r"\d\d:\d\d:\d\d", line):
            cur = []
            tables.append(cur)
        elif line:
            cur.append(line)
    totals, where = {}, {}
    for i, table in enumerate(tables):
        for pid, comm, *_rest, count in parse_count_table(table):
            totals[(pid, comm)] = totals.get((pid, comm), 0) + count
            where.setdefault((pid, comm), []).append(i)
    assert totals.get((a["pid"], "first")) == 7 and totals.get((b["pid"], "second")) == 3, totals
    assert max(where[(a["pid"], "first")]) < min(where[(b["pid"], "second")]), where
    assert len(tables) >= 2, out


# --- -c on a terminal -------------------------------------------------------------

class OnTerminal:
    """tcpaccept with its stderr on a pseudo-terminal, as in a shell."""

    def __init__(self, *args):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen([TCPACCEPT, *args], stdout=subprocess.PIPE, stderr=slave,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_pytest)
        STARTED.append(self.proc)
        os.close(slave)
        self.text = b""

    def read_until(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred(self.text) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError as e:    # EIO: the process closed it
                    if e.errno != errno.EIO:
                        raise
                    break
                self.text += chunk
        return self.text.decode(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        tail = self.read_until(lambda t: False, 0.5)
        os.close(self.master)
        return out.decode(), tail, self.proc.returncode


COUNTING = ("tcpaccept: counting accepts until Ctrl-C, then printing the table "
            "(-i SECS: a table every SECS seconds)\r\n")


def test_count_on_a_terminal_says_what_it_does():
    port = free_port()
    term = OnTerminal("-c", "-P", str(port))
    said = term.read_until(lambda t: b"\n" in t, 30)
    # Printed once attached: what it counts from here on is in the table.
    assert said == COUNTING, said
    ready, _ = peer("--port", str(port), "--count", "3", "--comm", "on-tty")
    out, tail, rc = term.stop()
    assert rc == 0 and tail == COUNTING, tail
    assert parse_count_table(out.splitlines()) == [
        (ready["pid"], "on-tty", 4, "127.0.0.1", port, 3)], out


def test_count_with_duration_on_a_terminal():
    term = OnTerminal("-c", "-d", "2", "-P", str(free_port()))
    said = term.read_until(lambda t: b"\n" in t, 30)
    assert said == ("tcpaccept: counting accepts for 2 s (or until Ctrl-C), then printing "
                    "the table (-i SECS: a table every SECS seconds)\r\n"), said
    out, _ = term.proc.communicate(timeout=30)
    os.close(term.master)
    assert term.proc.returncode == 0 and out.decode().startswith("PID "), out


def test_count_says_nothing_when_not_on_a_terminal():
    # Scripts and tests that read stderr see what they saw before: nothing
    # with -c -d alone; and -i prints tables, so nothing to say on a terminal.
    res = run("-c", "-d", "1", "-P", str(free_port()))
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    term = OnTerminal("-c", "-i", "1", "-d", "2", "-P", str(free_port()))
    out, _ = term.proc.communicate(timeout=30)
    said = term.read_until(lambda t: False, 0.5)
    os.close(term.master)
    assert term.proc.returncode == 0 and said == "", said
