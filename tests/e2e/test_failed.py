# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""-x: failed passive connections on this host's kernel, each workload in a
network namespace of its own (so that its counters are its own) with the
tracer outside it. Every figure is held against the kernel's: nstat's
ListenDrops, the listener's own drop counter as `ss -tlm` shows it (d), and
tcppeer's own account of its clients and failed accept() calls.

What a way in sees (tcpaccept.8): fexit and kprobe a row for every drop
(ListenDrops); the tracepoint way rows for the drops at the final ACK only.
Every way counts each listener's own counter (ss d) exactly."""
import os
import subprocess

import pytest

from tests.lib import PEER
from tests.lib.cgroups import ID_A, ID_B, LAYOUTS, CgroupTree, in_cgroup, ns_inode
from tests.lib.checks import parse_json_lines, parse_peer, parse_prom, peer_lines, one, series
from tests.lib.host import Tracer, WaitingPeer, bpftool_ids, free_port
from tests.lib.netns import NetNs, counter_delta
from tests.peer.test_workload import BURST, DROPS, Burst

REASONS = {"accept_queue_full", "syn_queue_full", "other", "cookie_ack_dropped"}


def way_of(err):
    for w in ("fexit", "kprobe", "tracepoint"):
        if f"tcpaccept: way in: {w}" in err:
            return w
    raise AssertionError(f"no way in said: {err}")


def traced_burst(tmp_path, family, cookies, *extra):
    """A burst on a port of its own under `tcpaccept -a -j --metrics -P`;
    returns (rows, metrics, the peer's text, its listener's ss d, the nstat
    deltas, the way in)."""
    port = free_port()
    prom = tmp_path / "m.prom"
    t = Tracer("-a", "-j", "-v", "-P", str(port), f"--metrics={prom}", ready_on_stderr=True)
    with NetNs([f"net.ipv4.tcp_syncookies={cookies}"]) as ns:
        before = ns.nstat()
        text, d = Burst(ns, "--family", family, "--port", str(port), *extra).finish()
        delta = counter_delta(before, ns.nstat(), *DROPS)
        netns = ns.inode
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = [o for o in parse_json_lines(out) if o["netns"] == netns]
    return rows, parse_prom(prom.read_text()), text, d, delta, way_of(err)


def check_drop_rows(rows, text, delta, way):
    """Every drop row is one of the clients', on the listener, with a
    reason; fexit and kprobe see each drop."""
    ready, _, _ = parse_peer(text)
    clients = {(c["raddr"], c["rport"]) for c in peer_lines(text, "CLIENT")}
    drops = [o for o in rows if o["event"] == "drop"]
    for o in drops:
        assert (o["raddr"], o["rport"]) in clients, o
        assert o["lport"] == ready["port"] and o["reason"] in REASONS, o
        assert o["stage"] in ("syn", "ack") and o["tid"] is None, o
        # The owner: the server, once it was seen to listen() or accept().
        assert o["pid"] in (None, ready["pid"]), o
    if way == "tracepoint":
        # No tracepoint sees a drop at the SYN; those at the final ACK.
        assert len(drops) <= delta["TcpExtListenDrops"], (len(drops), delta)
        assert all(o["stage"] == "ack" for o in drops)
    else:
        assert len(drops) == delta["TcpExtListenDrops"], (len(drops), delta)
        by = lambda r: sum(o["reason"] == r for o in drops)
        assert by("accept_queue_full") == delta["TcpExtListenOverflows"], delta
        assert by("syn_queue_full") == delta["TcpExtTCPReqQFullDrop"], delta
    return drops


@pytest.mark.parametrize("family,cookies", [("4", "1"), ("4", "0"), ("6", "1"), ("mapped", "0")])
def test_burst(tmp_path, family, cookies):
    """A backlog-2 listener, a slow server, 60 clients at once: the
    listener's count is its own counter (ss d), which counts every listen
    drop (d >= ListenDrops); the rows are the clients'; the accepts are
    still exact beside them (-a)."""
    rows, samples, text, d, delta, way = traced_burst(tmp_path, family, cookies)
    ready, accepts, _ = parse_peer(text)
    assert delta["TcpExtListenDrops"] > 0, delta
    assert d >= delta["TcpExtListenDrops"], (d, delta)
    laddr = "127.0.0.1" if family == "4" else "::1" if family == "6" else "::"
    assert one(samples, "tcpaccept_listen_drops_total", laddr=laddr, lport=ready["port"]) == d
    got = {(o["raddr"], o["rport"]) for o in rows if o["event"] == "accept"}
    assert got == {(a["raddr"], int(a["rport"])) for a in accepts}
    assert len([o for o in rows if o["event"] == "accept"]) == len(accepts) == 20
    drops = check_drop_rows(rows, text, delta, way)
    if way == "tracepoint" and cookies == "1":
        assert drops, "the cookie ACKs a full accept queue dropped, as kfree_skb names them"


def test_lazy_ack_rows_at_the_final_ack(tmp_path):
    """Final ACKs that overflow the accept queue on the request-socket path
    (kfree_skb's TCP_LISTEN_OVERFLOW, 6.15+, on the tracepoint way)."""
    rows, samples, text, d, delta, way = traced_burst(tmp_path, "4", "0", "--lazy-ack")
    ready, _, _ = parse_peer(text)
    drops = check_drop_rows(rows, text, delta, way)
    assert one(samples, "tcpaccept_listen_drops_total", laddr="127.0.0.1", lport=ready["port"]) == d
    assert d > delta["TcpExtListenDrops"] > 0, (d, delta)
    assert any(o["stage"] == "ack" and o["reason"] == "accept_queue_full" for o in drops), drops


def test_count_two_listeners(tmp_path):
    """-c -x: two listeners at once, each row its own listener's drops
    (its ss d), accepts beside them."""
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    t = Tracer("-c", "-x", "-v", "-P", ",".join(map(str, ports)), ready_on_stderr=True)
    with NetNs() as ns:
        bursts = [Burst(ns, "--port", str(p)) for p in ports]
        results = [b.finish() for b in bursts]
    out, err, rc = t.stop()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "PID     COMM         IP LADDR            LPORT ACCEPTS DROPS ERRORS", lines
    table = {}
    for line in lines[1:]:
        f = line.split()
        table.setdefault(int(f[4]), []).append((f[0], f[1], int(f[5]), int(f[6]), int(f[7])))
    for (text, d), port in zip(results, ports):
        ready, _, _ = parse_peer(text)
        (row,) = table[port]
        assert row == (str(ready["pid"]), "tcppeer-srv", 20, d, 0), (row, d)


@pytest.mark.parametrize("kind", [(), ("--accept4",), ("--family", "6"), ("--io-uring",)],
                         ids=["accept", "accept4", "ipv6", "io_uring"])
def test_emfile(tmp_path, kind):
    """Error rows are the server's own failed accept() calls, with its PID,
    COMM and listener; --metrics counts them by errno."""
    port = free_port()
    prom = tmp_path / "m.prom"
    t = Tracer("-x", "-j", "-v", "-P", str(port), f"--metrics={prom}", ready_on_stderr=True)
    res = subprocess.run([PEER, "--count", "3", "--emfile", "25", "--port", str(port), *kind],
                         capture_output=True, timeout=60)
    out, err, rc = t.stop()
    assert res.returncode == 0 and rc == 0, (res.stderr, err)
    text = res.stdout.decode()
    ready, _, _ = parse_peer(text)
    (failed,) = peer_lines(text, "FAILED")
    rows = parse_json_lines(out)
    assert failed["count"] == 25 and len(rows) == 25, (failed, rows[:2])
    laddr = "::1" if "6" in kind else "127.0.0.1"
    for o in rows:
        assert (o["event"], o["errno"], o["pid"], o["comm"], o["lport"], o["laddr"]) == \
            ("error", "EMFILE", ready["pid"], "tcppeer-srv", port, laddr), o
        assert o["raddr"] is None and o["rport"] is None, o
    samples = parse_prom(prom.read_text())
    assert one(samples, "tcpaccept_accept_errors_total", comm="tcppeer-srv", errno="EMFILE",
               lport=port) == 25
    assert not series(samples, "tcpaccept_accepts_total", lport=port, comm="nobody")


@pytest.mark.parametrize("args", [("--emfile", "25", "--unix"), ("--eagain", "2000")],
                         ids=["unix_emfile", "eagain"])
def test_no_error_rows(args):
    """A UNIX listener's EMFILE is not a TCP accept's; EAGAIN is a
    non-blocking server's normal work: no rows."""
    t = Tracer("-x", "-j", "-v", ready_on_stderr=True)
    res = subprocess.run([PEER, "--count", "3", *args, "--comm", "noerrors"], capture_output=True,
                         timeout=60)
    out, err, rc = t.stop()
    assert res.returncode == 0 and rc == 0, (res.stderr, err)
    (failed,) = peer_lines(res.stdout.decode(), "FAILED")
    assert failed["count"] >= 25
    assert not [o for o in parse_json_lines(out) if o["comm"] == "noerrors"]


def test_default_output_has_no_failures():
    """Without -x the rows are bcc's: no REASON column, no failed row."""
    port = free_port()
    t = Tracer("-P", str(port))
    res = subprocess.run([PEER, "--count", "3", "--emfile", "5", "--port", str(port)],
                         capture_output=True, timeout=60)
    out, err, rc = t.stop()
    assert res.returncode == 0 and rc == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("LPORT") and len(lines) == 4, lines


def attached_programs(t):
    """The names of the programs tracer @t holds (bpftool by id)."""
    progs = bpftool_ids("prog")
    return {progs[i].get("name", "") for i in t.objects()["prog"] if i in progs}


def test_nothing_extra_without_failed():
    """Without -x or --metrics none of -x's programs is loaded; with -x
    on this way in (tracepoint) the listeners' and the drops' are, and with
    -c -x no program for rows of drops."""
    extra = {"tp_sock_set_state", "tp_sweep", "tp_kfree_skb"}
    t = Tracer()
    plain = attached_programs(t)
    t.stop()
    assert not plain & extra, plain
    t = Tracer("-x")
    failed = attached_programs(t)
    t.stop()
    assert extra <= failed, failed
    t = Tracer("-c", "-x", "-v", ready_on_stderr=True)
    counted = attached_programs(t)
    t.stop()
    assert "tp_sweep" in counted and "tp_kfree_skb" not in counted, counted


# --- who a drop belongs to: the listener's socket, never the interrupted task ----

def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def move(pid, path):
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(pid))


def burst_apart(ns, server_dir, client_dir, port):
    """A burst whose server (and so its listener's socket) is in cgroup
    @server_dir and whose clients are in @client_dir: a drop runs in softirq
    in the client's context on loopback, so a row that took the current
    task's cgroup would name the clients'. Returns the peer's text."""
    # Into the cgroup first: ip netns exec mounts the namespace's own /sys.
    proc = subprocess.Popen([*in_cgroup(server_dir), *ns.cmd(PEER, *BURST, "--wait", "--wait-end",
                                                            "--port", str(port))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready = proc.stdout.readline()
    assert ready.startswith(b"READY "), (ready, proc.stderr.read())
    (client,) = children(int(ready.split(b"pid=")[1].split()[0]))
    move(client, client_dir)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    out = ready
    while b"\nDONE " not in b"\n" + out or not out.endswith(b"\n"):
        chunk = proc.stdout.read1(65536)
        assert chunk, proc.stderr.read()
        out += chunk
    rest, err = proc.communicate(b"\n", timeout=30)
    assert proc.returncode == 0, err
    return (out + rest).decode()


def test_drop_rows_belong_to_the_listener(tmp_path):
    """-x -j: a drop's cgroup, unit and container are the listener
    socket's (the server's), its nspid, pidns and mntns null (no task);
    -S names the server's service; --container and --netns take a drop as
    the listener's: its cgroup's container, its network namespace."""
    port = free_port()
    layout = LAYOUTS["docker-systemd"]
    with CgroupTree() as tree, NetNs(["net.ipv4.tcp_syncookies=1"]) as ns:
        server_dir, client_dir = tree.make(layout.path), tree.make(LAYOUTS["none"].path)
        common = ("-x", "-v", "-P", str(port))
        tracers = {
            "json": Tracer("-a", "-j", *common, ready_on_stderr=True),
            "service": Tracer("-S", *common, ready_on_stderr=True),
            "container": Tracer("-j", f"--container={ID_A[:12]}", *common, ready_on_stderr=True),
            "other-container": Tracer("-j", f"--container={ID_B[:12]}", *common,
                                      ready_on_stderr=True),
            "netns": Tracer("-j", f"--netns=/run/netns/{ns.name}", *common, ready_on_stderr=True),
            "host-netns": Tracer("-j", "--netns=/proc/self/ns/net", *common, ready_on_stderr=True),
            "count": Tracer("-c", "-S", *common, ready_on_stderr=True),
        }
        text = burst_apart(ns, server_dir, client_dir, port)
        server_cgroup, netns = tree.cgroup_path(server_dir), ns.inode
        outs = {}
        for name, t in tracers.items():
            out, err, rc = t.stop()
            assert rc == 0, (name, err)
            outs[name] = out
    ready, accepts, _ = parse_peer(text)
    rows = parse_json_lines(outs["json"])
    drops = [o for o in rows if o["event"] == "drop"]
    assert drops, "the cookie ACKs' drops (every way sees those)"
    for o in drops:
        assert (o["cgroup"], o["unit"], o["container"]) == (server_cgroup, layout.unit, ID_A), o
        assert (o["nspid"], o["pidns"], o["mntns"], o["tid"]) == (None, None, None, None), o
        assert o["netns"] == netns and o["pid"] in (None, ready["pid"]), o
    for o in (o for o in rows if o["event"] == "accept"):
        assert o["cgroup"] == server_cgroup and o["nspid"] == ready["pid"], o
    assert len(rows) == len(drops) + len(accepts)
    # -S: the container's short ID on every drop row.
    lines = outs["service"].splitlines()
    assert lines[0].split()[-2:] == ["REASON", "SERVICE"], lines[0]
    assert [l.split()[-1] for l in lines[1:]] == [ID_A[:12]] * len(drops), lines[:3]
    # The filters keep exactly the drops of the listener they name.
    keys = lambda out: sorted((o["raddr"], o["rport"], o["reason"]) for o in parse_json_lines(out))
    want = sorted((o["raddr"], o["rport"], o["reason"]) for o in drops)
    assert keys(outs["container"]) == want and keys(outs["netns"]) == want
    assert not outs["other-container"] and not outs["host-netns"]
    # -c -x -S: the drops on the server's row, the one of its service.
    (listener,) = peer_lines(text, "LISTENER")
    lines = outs["count"].splitlines()
    assert lines[0].endswith(" ACCEPTS DROPS ERRORS SERVICE") and len(lines) == 2, lines
    f = lines[1].split()
    assert (int(f[0]), int(f[5]), int(f[6]), int(f[7]), f[8]) == \
        (ready["pid"], len(accepts), listener["drops"], 0, ID_A[:12]), (lines, listener)


def test_error_rows_have_the_callers_identity():
    """An error has a task, the caller: -j gives its cgroup, unit and
    namespaces, -S its service."""
    layout = LAYOUTS["systemd-service"]
    with CgroupTree() as tree:
        d = tree.make(layout.path)
        port = free_port()
        tj = Tracer("-x", "-j", "-v", "-P", str(port), ready_on_stderr=True)
        ts = Tracer("-x", "-S", "-v", "-P", str(port), ready_on_stderr=True)
        server = WaitingPeer("--count", "3", "--emfile", "5", "--port", str(port),
                             prefix=in_cgroup(d))
        truth = {"cgroup": tree.cgroup_path(d), "nspid": server.pid,
                 "pidns": ns_inode(server.pid, "pid"), "mntns": ns_inode(server.pid, "mnt")}
        server.go()
        outs = [t.stop() for t in (tj, ts)]
    assert all(rc == 0 for _, _, rc in outs), outs
    rows = parse_json_lines(outs[0][0])
    assert len(rows) == 5, rows
    for o in rows:
        assert o["event"] == "error" and o["pid"] == server.pid and o["unit"] == layout.unit, o
        assert {k: o[k] for k in truth} == truth, (o, truth)
    lines = outs[1][0].splitlines()
    assert [l.split()[-2:] for l in lines[1:]] == [["EMFILE", layout.unit]] * 5, lines
