# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: -j, JSON Lines, for rows (with -q and the
filters) and for -c's counts, every key and value checked, task names with
every byte value."""
import json
import os
import time

from tests.lib.checks import LOST_RE, check_json, parse_json_lines
from tests.lib.host import Tracer, peer

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


# --- -c -j -----------------------------------------------------------------------


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
