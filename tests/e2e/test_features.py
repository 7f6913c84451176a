# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: the options beyond bcc's (-j, -U, -u, -C, -c,
-i, -q, -d, -w) and io_uring accepts, every value checked."""
import json
import os
import re
import subprocess
import time

import pytest

from harness import TCPACCEPT, Tracer, free_port, peer, traced
from tcpaccept_testlib import (LOST_RE, check_json, check_rows, header, parse_count_table,
                               parse_json_lines, parse_rows)

NETNS = os.stat("/proc/self/ns/net").st_ino
HOSTILE = r"\x1b[2J\n fake 1.2.3.4"


def traced_json(tracer_args, *peer_runs, queue=False):
    """Runs each peer (a tuple of tcppeer args) under `tcpaccept -j`."""
    t = Tracer("-j", "-v", *tracer_args, ready_on_stderr=True)
    start = time.time()
    results = [peer(*args) for args in peer_runs]
    end = time.time()
    out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    objs = parse_json_lines(out)
    for o in objs:
        assert start - 1 <= o["ts"] <= end + 1, (o["ts"], start, end)
    return objs, results


# --- -j -----------------------------------------------------------------------

def test_json_lines_every_value():
    objs, results = traced_json([], ("--count", "3"), ("--family", "6", "--count", "2", "--accept4"),
                                ("--family", "mapped", "--count", "2"), ("--rst", "--count", "8"))
    for ready, accepts in results:
        check_json(objs, accepts, ready["pid"], netns=NETNS)
    # Only the peers' own: other accepts on a shared host are traced too.
    pids = {ready["pid"] for ready, _ in results}
    assert len([o for o in objs if o["pid"] in pids]) == 15


def test_json_escapes_every_byte_of_a_hostile_name():
    objs, [(ready, accepts)] = traced_json([], ("--count", "2", "--comm", HOSTILE))
    mine = check_json(objs, accepts, ready["pid"])
    # The kernel keeps 15 bytes of the name.
    assert {o["comm"] for o in mine} == {"\x1b[2J\n fake 1.2."}


def test_json_all_byte_values_round_trip():
    # Every byte a name can hold (no NUL), 15 at a time.
    for first in range(1, 256, 15):
        raw = bytes(range(first, min(first + 15, 256)))
        name = "".join(f"\\x{b:02x}" for b in raw)
        objs, [(ready, accepts)] = traced_json([], ("--comm", name))
        [mine] = check_json(objs, accepts, ready["pid"])
        assert mine["comm"].encode("latin-1") == raw


def test_json_with_queue_and_filters():
    port_objs, [(ready, accepts), (other, _)] = traced_json(
        ["-q", "-4"], ("--count", "2", "--rst", "--delay-accept", "100"),
        ("--family", "6", "--count", "2"),
        queue=True)
    mine = check_json(port_objs, accepts, ready["pid"], queue=True)
    assert not [o for o in port_objs if o["pid"] == other["pid"]], "-4 let IPv6 through"
    for o in mine:
        assert o["backlog_max"] > 0 and o["wait_ms"] is not None and o["wait_ms"] >= 100, o


# --- -U and -u ----------------------------------------------------------------

def test_uid_column_and_filter():
    t = Tracer("-U", "-u", "65534")
    nobody, nobody_accepts = peer("--count", "3", "--uid", "65534")
    root, _ = peer("--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out, uid=True)
    check_rows(rows, nobody_accepts, nobody["pid"])
    assert {r["uid"] for r in rows} == {65534}
    assert not [r for r in rows if r["pid"] == root["pid"]], "-u let UID 0 through"


def test_uid_column_shows_root():
    rows, ready, accepts, _ = traced(["-U"], "--count", "2", uid=True)
    check_rows(rows, accepts, ready["pid"])
    assert {r["uid"] for r in rows if r["pid"] == ready["pid"]} == {0}


# --- -C -------------------------------------------------------------------------

def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    raise AssertionError("no cgroup v2 hierarchy is mounted")


@pytest.fixture
def cgroup():
    path = os.path.join(cgroup2_root(), f"tcpaccept-test-{os.getpid()}")
    os.mkdir(path)
    os.mkdir(os.path.join(path, "below"))
    yield path
    for d in (os.path.join(path, "below"), path):
        os.rmdir(d)


def peer_in_cgroup(cgroup_dir, *args):
    script = f'echo $$ > {cgroup_dir}/cgroup.procs && exec "$@"'
    return peer(*args, prefix=("sh", "-c", script, "sh"))


def test_cgroup_filter(cgroup):
    t = Tracer("-C", cgroup)
    inside, inside_accepts = peer_in_cgroup(cgroup, "--count", "2", "--comm", "in-cg")
    below, below_accepts = peer_in_cgroup(os.path.join(cgroup, "below"), "--count", "2")
    outside, _ = peer("--count", "2", "--comm", "out-cg")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, inside_accepts, inside["pid"])
    check_rows(rows, below_accepts, below["pid"])
    assert len(rows) == 4, out


def test_cgroup_must_be_cgroup2():
    res = subprocess.run([TCPACCEPT, "-C", "/tmp"], capture_output=True, timeout=10)
    assert res.returncode == 1
    # What follows (where cgroup v2 is mounted): tests/e2e/test_first_minutes.py.
    assert res.stderr.decode().startswith("tcpaccept: '/tmp' is not a cgroup v2 directory; ")


# --- -c and -i ------------------------------------------------------------------

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


def test_count_json():
    t = Tracer("-c", "-j", "-v", ready_on_stderr=True)
    a, _ = peer("--count", "4", "--comm", HOSTILE)
    out, err, rc = t.stop()
    assert rc == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    mine = [o for o in objs if o["pid"] == a["pid"]]
    assert mine == [{"ts": mine[0]["ts"], "pid": a["pid"], "comm": "\x1b[2J\n fake 1.2.",
                     "ip": 4, "proto": "tcp", "laddr": "127.0.0.1", "lport": a["port"],
                     "accepts": 4}], mine


# --- -q -------------------------------------------------------------------------

def test_queue_wait_and_backlog():
    # Three clients connect (--rst: all of them before the first accept);
    # the server sleeps 300 ms before each accept: the k-th accept waited
    # about k * 300 ms, and leaves 3 - k in the queue.
    with open("/proc/sys/net/core/somaxconn") as f:
        backlog_max = min(4096, int(f.read()))
    rows, ready, accepts, _ = traced(["-q"], "--count", "3", "--rst", "--delay-accept", "300",
                                     queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    assert [r["bl"] for r in mine] == [f"{n}/{backlog_max}" for n in (2, 1, 0)], mine
    for k, r in enumerate(mine, 1):
        wait = float(r["wait"])
        assert k * 300 <= wait <= k * 300 + 500, (k, wait)


def test_queue_backlog_drains_one_per_accept():
    rows, ready, accepts, _ = traced(["-q"], "--count", "6", "--delay-accept", "50",
                                     "--rst", queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    lens = [int(r["bl"].split("/")[0]) for r in mine]
    assert lens == [5, 4, 3, 2, 1, 0], lens


# --- -d and -w --------------------------------------------------------------------

def test_duration_exits_by_itself():
    start = time.monotonic()
    # A port nobody listens on: no row may show up.
    res = subprocess.run([TCPACCEPT, "-d", "2", "-P", str(free_port())], capture_output=True,
                         timeout=15)
    elapsed = time.monotonic() - start
    assert res.returncode == 0 and res.stderr == b"", res
    assert 1.9 < elapsed < 4, elapsed
    assert res.stdout.decode().splitlines() == [header()]


def test_wide_columns():
    rows, ready, accepts, _ = traced(["-w", "-U", "-q"], "--family", "6", "--count", "2",
                                     wide=True, uid=True, queue=True)
    check_rows(rows, accepts, ready["pid"])
    def starts(line):
        return [m.start() for m in re.finditer(r"\S+", line)]

    head = header(uid=True, queue=True, wide=True)
    for r in rows:
        # Columns stay aligned: each value starts under its heading.
        assert starts(r["line"]) == starts(head), (head, r["line"])


# --- io_uring ----------------------------------------------------------------------

def test_io_uring_accept():
    rows, ready, accepts, _ = traced([], "--io-uring", "--count", "3", "--comm", "uring-srv")
    check_rows(rows, accepts, ready["pid"])
    rows, ready, accepts, _ = traced([], "--io-uring", "--count", "4", "--rst", "--family", "6")
    check_rows(rows, accepts, ready["pid"])


def test_queue_backlog_grows_while_server_sleeps():
    # Clients arrive every 40 ms, the server takes one every 150 ms: the
    # queue it leaves behind after each accept builds up.
    rows, ready, accepts, _ = traced(["-q"], "--count", "8", "--connect-interval", "40",
                                     "--delay-accept", "150", queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    lens = [int(r["bl"].split("/")[0]) for r in mine]
    # The clients are done after ~280 ms, the server after ~1200 ms: the
    # queue grows to its peak first.
    peak = lens.index(max(lens))
    assert lens[:peak + 1] == sorted(lens[:peak + 1]) and max(lens) >= 3, lens
    waits = [float(r["wait"]) for r in mine]
    assert waits[:peak + 1] == sorted(waits[:peak + 1]) and waits[peak] > 150, waits
