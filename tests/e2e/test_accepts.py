# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: each kind of plain TCP accept (IPv4, IPv6,
IPv4-mapped; accept and accept4; reset before the accept; io_uring; a
thread already blocked when tracing starts; a burst) is one row, every
field checked against what tests/peer/tcppeer says it accepted; a Unix
socket's accept is none. MPTCP, Fast Open and SYN cookies:
test_protocols.py."""
import subprocess

import pytest

from tests.lib import PEER
from tests.lib.checks import check_rows, parse_peer, parse_rows
from tests.lib.host import Tracer, traced


@pytest.mark.parametrize("family", ["4", "6", "mapped"])
@pytest.mark.parametrize("call", ["accept", "accept4"])
def test_fields(family, call):
    extra = ["--accept4"] if call == "accept4" else []
    rows, ready, accepts, _ = traced([], "--family", family, "--count", "5", *extra)
    assert len(accepts) == 5
    check_rows(rows, accepts, ready["pid"])
    want_ip = 4 if family == "4" else 6
    for a in accepts:
        assert int(a["ip"]) == want_ip and int(a["lport"]) == ready["port"]
        if family == "mapped":
            assert a["raddr"] == a["laddr"] == "::ffff:127.0.0.1"


def test_reset_before_accept_keeps_lport():
    # Clients send RST before the server accepts: the kernel clears the
    # child's local port, so LPORT must come from the listener.
    rows, ready, accepts, _ = traced([], "--rst", "--count", "64")
    assert len(accepts) == 64
    check_rows(rows, accepts, ready["pid"])
    assert all(r["lport"] == ready["port"] for r in rows if r["pid"] == ready["pid"])


def test_unix_socket_accept_prints_nothing():
    rows, ready, accepts, _ = traced([], "--unix", "--count", "3")
    assert len(accepts) == 3
    assert [r for r in rows if r["pid"] == ready["pid"]] == []


def test_burst_of_10000_all_printed():
    rows, ready, accepts, err = traced([], "--count", "10000")
    assert len(accepts) == 10000
    check_rows(rows, accepts, ready["pid"])


def test_thread_blocked_before_start():
    # bcc #2165: a thread already inside accept() when tracing starts.
    blocked = subprocess.Popen([PEER, "--block-first", "--count", "1", "--comm", "early-bird"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    ready_line = blocked.stdout.readline().decode()
    assert ready_line.startswith("READY "), ready_line
    t = Tracer()
    out, err = blocked.communicate(b"go\n", timeout=60)
    assert blocked.returncode == 0, err
    ready, accepts, _ = parse_peer(ready_line + out.decode())
    out, err, rc = t.stop()
    assert rc == 0, err
    check_rows(parse_rows(out), accepts, ready["pid"])


def test_io_uring_accept():
    rows, ready, accepts, _ = traced([], "--io-uring", "--count", "3", "--comm", "uring-srv")
    check_rows(rows, accepts, ready["pid"])
    rows, ready, accepts, _ = traced([], "--io-uring", "--count", "4", "--rst", "--family", "6")
    check_rows(rows, accepts, ready["pid"])
