# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""The failure workloads of tcppeer against the kernel's own counters, on this
host, without a tracer: each really makes the kernel drop connection attempts
(nstat, `ss -tlm`) or fail accept() calls, and tcppeer's own account (its
CLIENT, LISTENER, STAT and FAILED lines) agrees with the kernel's. What a
tracer reports of these runs is checked against the same lines.

    make .output/tcppeer && /usr/bin/python3 -m pytest tests/peer"""
import subprocess

import pytest

from tests.lib import PEER
from tests.lib.checks import parse_peer, peer_lines, peer_stats
from tests.lib.netns import NetNs, counter_delta

DROPS = ("TcpExtListenDrops", "TcpExtListenOverflows", "TcpExtTCPReqQFullDrop")
# A backlog-2 listener that takes 50 ms per connection, 60 clients at once;
# it stops after 20 accepts (the clients then reset everything).
BURST = ("--burst", "60", "--count", "20", "--backlog", "2", "--delay-accept", "50",
         "--stats", "--timeout", "60")
# 12 clients in the order --lazy-ack sets, backlog 2, 6 accepts.
LAZY = ("--burst", "12", "--count", "6", "--backlog", "2", "--delay-accept", "20", "--stats",
        "--timeout", "60")


class Burst:
    """A tcppeer --burst in @ns that holds its listener at the end (so that
    `ss -tlm` can read it) until finish()."""

    def __init__(self, ns, *args):
        self.ns, self.args = ns, args
        base = LAZY if "--lazy-ack" in args else BURST
        self.proc = ns.popen(PEER, *base, "--wait-end", *args, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self):
        """Waits for DONE; returns (stdout, the listener's ss d)."""
        out = b""
        while b"\nDONE " not in b"\n" + out or not out.endswith(b"\n"):
            chunk = self.proc.stdout.read1(65536)
            assert chunk, f"tcppeer {self.args} exited early: {self.proc.stderr.read().decode()}"
            out += chunk
        ready, _, _ = parse_peer(out.decode())
        d = self.ns.listen_drops(ready["port"])
        rest, err = self.proc.communicate(b"\n", timeout=30)
        assert self.proc.returncode == 0, err.decode()
        return (out + rest).decode(), d


def run_burst(ns, *args):
    return Burst(ns, *args).finish()


def check_burst(text, d):
    """The ground truth is whole and agrees with itself: every client has
    its own address, the accepted ones are the ACCEPT lines, and the
    listener's counter is what `ss -tlm` read."""
    ready, accepts, done = parse_peer(text)
    clients = peer_lines(text, "CLIENT")
    assert len(clients) == 60 and done == 20
    assert len({(c["raddr"], c["rport"]) for c in clients}) == 60
    accepted = {(c["raddr"], c["rport"]) for c in clients if c["accepted"]}
    assert accepted == {(a["raddr"], int(a["rport"])) for a in accepts}
    assert all(c["connected"] for c in clients if c["accepted"])
    (listener,) = peer_lines(text, "LISTENER")
    assert listener["lport"] == ready["port"] and listener["drops"] == d
    return listener["drops"]


@pytest.mark.parametrize("family", ["4", "6", "mapped"])
@pytest.mark.parametrize("cookies", ["1", "0"])
def test_burst_drops_match_the_kernel(family, cookies):
    with NetNs([f"net.ipv4.tcp_syncookies={cookies}"]) as ns:
        before = ns.nstat()
        text, d = run_burst(ns, "--family", family)
        delta = counter_delta(before, ns.nstat(), *DROPS)
    drops = check_burst(text, d)
    stats = peer_stats(text)
    # One listener in the namespace: the namespace's listen drops are its
    # own, each with one of the two reasons the workload provokes.
    listen_drops = delta["TcpExtListenDrops"]
    assert listen_drops > 0 and listen_drops == stats["TcpExt.ListenDrops"]
    assert delta["TcpExtListenOverflows"] + delta["TcpExtTCPReqQFullDrop"] == listen_drops
    if cookies == "0":
        assert delta["TcpExtTCPReqQFullDrop"] > 0, delta
    else:
        assert delta["TcpExtTCPReqQFullDrop"] == 0 and stats["TcpExt.SyncookiesSent"] > 0
    # The listener's own counter counts every listen drop and more (a
    # retransmitted SYN of a pending request; an ACK that overflows the
    # accept queue a second time, in tcp_v4_rcv()).
    assert drops >= listen_drops, (drops, delta)


def test_lazy_ack_overflows_at_the_final_ack():
    """--lazy-ack: requests wait in the SYN queue while the accept queue
    fills, so later final ACKs overflow it on the request-socket path, where
    tcp_v4_rcv() adds to the listener's counter a second time: ss d exceeds
    ListenDrops."""
    with NetNs(["net.ipv4.tcp_syncookies=0"]) as ns:
        before = ns.nstat()
        b = Burst(ns, "--lazy-ack")
        text, d = b.finish()
        delta = counter_delta(before, ns.nstat(), *DROPS)
    (listener,) = peer_lines(text, "LISTENER")
    assert listener["drops"] == d
    assert delta["TcpExtListenOverflows"] == delta["TcpExtListenDrops"] > 0, delta
    assert d > delta["TcpExtListenDrops"], (d, delta)


def test_burst_mptcp_drops_count_on_the_subflow():
    """An MPTCP listener's drops are counted on its listening subflow: ss
    sees them (every ListenDrops, and the resets of closed clients to
    requests that were pending, which --stats waits out), the MPTCP
    socket's own counter (LISTENER) stays 0."""
    with NetNs() as ns:
        before = ns.nstat()
        text, d = run_burst(ns, "--proto", "mptcp")
        delta = counter_delta(before, ns.nstat(), *DROPS)
    (listener,) = peer_lines(text, "LISTENER")
    assert listener["drops"] == 0 and d >= delta["TcpExtListenDrops"] > 0, (d, delta)


def test_two_listeners_count_their_own():
    with NetNs() as ns:
        before = ns.nstat()
        bursts = [Burst(ns), Burst(ns)]
        results = [b.finish() for b in bursts]
        delta = counter_delta(before, ns.nstat(), *DROPS)
    drops = []
    for text, d in results:
        (listener,) = peer_lines(text, "LISTENER")
        assert listener["drops"] == d > 0, (listener, d)
        drops.append(d)
    assert sum(drops) >= delta["TcpExtListenDrops"] > 0, (drops, delta)


@pytest.mark.parametrize("kind", [(), ("--accept4",), ("--io-uring",), ("--unix",)],
                         ids=["accept", "accept4", "io_uring", "unix"])
def test_emfile_is_counted(kind):
    res = subprocess.run([PEER, "--count", "3", "--emfile", "25", *kind], capture_output=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    text = res.stdout.decode()
    _, accepts, _ = parse_peer(text)
    (failed,) = peer_lines(text, "FAILED")
    assert failed["errno"] == "EMFILE" and failed["count"] == 25 and len(accepts) == 3


def test_eagain_is_counted():
    res = subprocess.run([PEER, "--count", "2", "--eagain", "2000"], capture_output=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    (failed,) = peer_lines(res.stdout.decode(), "FAILED")
    assert failed["errno"] == "EAGAIN" and failed["count"] >= 2000
