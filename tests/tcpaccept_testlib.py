# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Checks shared by the host and VM end-to-end tests.

The ground truth is what tests/peer/tcppeer prints about the connections it
accepted (READY/ACCEPT/DONE lines); the tracer's rows are compared with it
field by field: PID, COMM, IP, RADDR, RPORT, LADDR, LPORT.
"""
import re
from collections import Counter

LOST_RE = re.compile(r"^tcpaccept: lost \d+ events", re.M)
HEADER = "PID     COMM         IP RADDR            RPORT LADDR            LPORT"
ROW_RE = re.compile(
    r"^(?:(?P<time>\d\d:\d\d:\d\d) +)?(?:(?P<ts>\d+\.\d{3}) +)?"
    r"(?P<pid>\d+) +(?P<comm>.{1,12}?) +(?P<ip>[46]) +(?P<raddr>[0-9a-f.:]+) +"
    r"(?P<rport>\d+) +(?P<laddr>[0-9a-f.:]+) +(?P<lport>\d+) *$")


def parse_rows(text, wallclock=False, timestamp=False):
    """Parses tcpaccept's output into dicts; the header must come first."""
    lines = text.splitlines()
    assert lines, "tcpaccept printed nothing, not even its header"
    header = ("TIME     " if wallclock else "") + ("TIME(s)  " if timestamp else "") + HEADER
    assert lines[0] == header, f"header {lines[0]!r} != {header!r}"
    rows = []
    for line in lines[1:]:
        # The row layout is fixed-width: check it before the fields.
        m = ROW_RE.match(line)
        assert m, f"malformed row: {line!r}"
        assert bool(m.group("time")) == wallclock and bool(m.group("ts")) == timestamp, line
        row = m.groupdict()
        for k in ("pid", "ip", "rport", "lport"):
            row[k] = int(row[k])
        row["line"] = line
        rows.append(row)
    return rows


def parse_peer(text):
    """Parses tcppeer's stdout: returns (ready, accepts, done)."""
    ready, accepts, done = None, [], None
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        fields = dict(kv.split("=", 1) for kv in rest.split())
        if word == "READY":
            ready = {"pid": int(fields["pid"]), "port": int(fields["port"])}
        elif word == "ACCEPT":
            accepts.append(fields)
        elif word == "DONE":
            done = int(fields["accepted"])
    assert ready is not None, f"tcppeer printed no READY line:\n{text}"
    assert done is not None, f"tcppeer did not finish:\n{text}"
    assert done == len(accepts), f"tcppeer: DONE accepted={done} but {len(accepts)} ACCEPT lines"
    return ready, accepts, done


def row_key(pid, comm, ip, raddr, rport, laddr, lport):
    return (int(pid), comm, int(ip), raddr, int(rport), laddr, int(lport))


def expected_keys(accepts):
    """What tcpaccept must print for tcppeer's accepts (COMM cut to 12)."""
    keys = []
    for a in accepts:
        keys.append(row_key(a["pid"], a["comm"][:12], a["ip"], a["raddr"], a["rport"],
                            a["laddr"], a["lport"]))
    return keys


def check_rows(rows, accepts, pid):
    """Every row of @pid is one of @accepts and every accept has its row,
    exactly once, with every field right."""
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"]) for r in rows if r["pid"] == pid)
    want = Counter(expected_keys(accepts))
    missing = want - got
    extra = got - want
    assert not missing and not extra, (
        f"{len(missing)} accepts not printed (first: {list(missing)[:3]}), "
        f"{len(extra)} rows not expected (first: {list(extra)[:3]})")
    for key in want:
        assert key[6] != 0, "LPORT 0"
