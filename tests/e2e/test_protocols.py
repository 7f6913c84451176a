# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: every kind of TCP accept. MPTCP (this kernel has
it enabled), TCP Fast Open and SYN cookies, each field compared with what
the server's own accepted fd says (tcppeer checks its getsockname() and
getpeername() against the client's view, and reports SO_PROTOCOL as
proto=), and `--btf` with the kernel's BTF hidden.

Fast Open and SYN cookies are set per network namespace: those tests run
tcppeer in a namespace of its own, so the host's settings stay as they are
for everything else running here."""
import json
import os
import re
import struct
import subprocess

import pytest

from tests.lib import MIN_BTF, PEER, TCPACCEPT
from tests.lib.checks import (LOST_RE, check_json, check_rows, check_wait_ms, parse_json_lines,
                              parse_peer, parse_rows)
from tests.lib.host import Tracer, WaitingPeer, free_port, peer

NETNS = os.stat("/proc/self/ns/net").st_ino


@pytest.fixture(scope="module", autouse=True)
def mptcp_enabled():
    # Fail loudly: the MPTCP tests mean nothing where MPTCP is off.
    with open("/proc/sys/net/mptcp/enabled") as f:
        assert f.read().strip() == "1", "net.mptcp.enabled is not 1 on this host"


def traced_both(tracer_args, *peer_runs):
    """Runs each tcppeer under `tcpaccept -j` and `tcpaccept --print-proto`
    at once; returns (JSON objects, column rows, [(ready, accepts)])."""
    tj = Tracer("-j", "-v", *tracer_args, ready_on_stderr=True)
    tc = Tracer("--print-proto", *tracer_args)
    results = [peer(*args) for args in peer_runs]
    out_j, err_j, rc_j = tj.stop()
    out_c, err_c, rc_c = tc.stop()
    assert rc_j == 0 and rc_c == 0 and not LOST_RE.search(err_j + err_c), (err_j, err_c)
    return parse_json_lines(out_j), parse_rows(out_c, proto=True), results


def check_both(objs, rows, ready, accepts, proto):
    assert accepts and {a["proto"] for a in accepts} == {proto}, accepts
    check_json(objs, accepts, ready["pid"], netns=NETNS)
    check_rows(rows, accepts, ready["pid"])
    assert all(int(a["rport"]) > 0 and int(a["lport"]) == ready["port"] for a in accepts)


# --- MPTCP ------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["4", "6", "mapped"])
def test_mptcp_every_field(family):
    objs, rows, results = traced_both(
        [], ("--proto", "mptcp", "--family", family, "--count", "3"),
        ("--proto", "mptcp", "--family", family, "--count", "2", "--accept4",
         "--client-proto", "tcp"),
        ("--proto", "mptcp", "--family", family, "--count", "4", "--rst"))
    (mp, mp_acc), (fb, fb_acc), (rst, rst_acc) = results
    check_both(objs, rows, mp, mp_acc, "mptcp")
    # An MPTCP listener's plain TCP client: the fd is a TCP socket.
    check_both(objs, rows, fb, fb_acc, "tcp")
    # Clients that reset before accept(): RPORT is still theirs.
    check_both(objs, rows, rst, rst_acc, "mptcp")


def test_mptcp_io_uring():
    objs, rows, [(ready, accepts)] = traced_both(
        [], ("--proto", "mptcp", "--io-uring", "--count", "3", "--comm", "uring-mptcp"))
    check_both(objs, rows, ready, accepts, "mptcp")


def test_mptcp_blocked_before_start():
    blocked = subprocess.Popen([PEER, "--block-first", "--count", "2", "--proto", "mptcp",
                                "--family", "6", "--comm", "early-mptcp"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    ready_line = blocked.stdout.readline().decode()
    assert ready_line.startswith("READY "), ready_line
    t = Tracer("-j", "-v", ready_on_stderr=True)
    out, err = blocked.communicate(b"go\n", timeout=60)
    assert blocked.returncode == 0, err
    ready, accepts, _ = parse_peer(ready_line + out.decode())
    out, err, rc = t.stop()
    assert rc == 0, err
    assert {a["proto"] for a in accepts} == {"mptcp"}
    check_json(parse_json_lines(out), accepts, ready["pid"])


@pytest.mark.parametrize("family,other", [("4", "6"), ("6", "4")])
def test_mptcp_filters(family, other):
    port, other_port = free_port(), free_port()
    # -P, -4 or -6, -u together: only the first peer passes all three.
    objs, rows, results = traced_both(
        ["-P", str(port), f"-{family}", "-u", "65534"],
        ("--proto", "mptcp", "--family", family, "--port", str(port), "--count", "2",
         "--uid", "65534"),
        ("--proto", "mptcp", "--family", family, "--port", str(other_port), "--count", "2",
         "--uid", "65534"),
        ("--proto", "mptcp", "--family", other, "--port", str(port), "--count", "2",
         "--uid", "65534"),
        ("--proto", "mptcp", "--family", family, "--port", str(port), "--count", "2"))
    ready, accepts = results[0]
    check_both(objs, rows, ready, accepts, "mptcp")
    for other, _ in results[1:]:
        assert not [o for o in objs if o["pid"] == other["pid"]], "a filter let MPTCP through"
        assert not [r for r in rows if r["pid"] == other["pid"]], "a filter let MPTCP through"


def test_mptcp_pid_filter():
    traced_peer = WaitingPeer("--proto", "mptcp", "--count", "2", "--family", "6")
    t = Tracer("-p", str(traced_peer.pid), "--print-proto")
    other, _ = peer("--proto", "mptcp", "--count", "2")
    accepts = traced_peer.go()
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out, proto=True)
    check_rows(rows, accepts, traced_peer.pid)
    assert {r["pid"] for r in rows} == {traced_peer.pid}, f"other PID {other['pid']} leaked"
    assert {r["proto"] for r in rows} == {"mptcp"}


def test_mptcp_cgroup_filter():
    with open("/proc/mounts") as f:
        root = next(line.split()[1] for line in f if line.split()[2] == "cgroup2")
    cg = os.path.join(root, f"tcpaccept-mptcp-{os.getpid()}")
    os.mkdir(cg)
    try:
        t = Tracer("-C", cg, "--print-proto")
        script = f'echo $$ > {cg}/cgroup.procs && exec "$@"'
        inside, inside_acc = peer("--proto", "mptcp", "--count", "2", "--comm", "in-cg",
                                  prefix=("sh", "-c", script, "sh"))
        outside, _ = peer("--proto", "mptcp", "--count", "2", "--comm", "out-cg")
        out, err, rc = t.stop()
    finally:
        os.rmdir(cg)
    assert rc == 0, err
    rows = parse_rows(out, proto=True)
    check_rows(rows, inside_acc, inside["pid"])
    assert len(rows) == 2, out


def test_mptcp_counts_kept_apart():
    # One listener, MPTCP and TCP clients in turn: two rows, one per proto.
    t = Tracer("-c", "-j", "-v", ready_on_stderr=True)
    tc = Tracer("-c", "--print-proto", "-v", ready_on_stderr=True)
    ready, accepts = peer("--proto", "mptcp", "--client-proto", "mixed", "--count", "6",
                          "--comm", "mixed")
    out, err, rc = t.stop()
    out_c, err_c, rc_c = tc.stop()
    assert rc == 0 and rc_c == 0, (err, err_c)
    assert sorted(a["proto"] for a in accepts) == ["mptcp"] * 3 + ["tcp"] * 3
    mine = sorted((o for o in map(json.loads, out.splitlines()) if o["pid"] == ready["pid"]),
                  key=lambda o: o["proto"])
    assert [{k: v for k, v in o.items() if k != "ts"} for o in mine] == [
        {"pid": ready["pid"], "comm": "mixed", "ip": 4, "proto": p, "laddr": "127.0.0.1",
         "lport": ready["port"], "accepts": 3} for p in ("mptcp", "tcp")], mine
    lines = out_c.splitlines()
    assert lines[0] == "PID     COMM         IP PROTO LADDR            LPORT ACCEPTS", out_c
    mine = sorted(l.split() for l in lines[1:] if l.split()[0] == str(ready["pid"]))
    assert mine == [[str(ready["pid"]), "mixed", "4", p, "127.0.0.1", str(ready["port"]), "3"]
                    for p in ("mptcp", "tcp")], out_c


def test_mptcp_queue():
    # -q: BL from the listener's subflow, where the accept queue is; WAIT
    # from the handshake of the connection's first subflow.
    t = Tracer("-j", "-q", "-v", ready_on_stderr=True)
    ready, accepts = peer("--proto", "mptcp", "--count", "3", "--rst", "--delay-accept", "100")
    out, err, rc = t.stop()
    assert rc == 0, err
    mine = check_json(parse_json_lines(out), accepts, ready["pid"], queue=True)
    assert [o["backlog"] for o in mine] == [2, 1, 0], mine
    for k, o in enumerate(mine, 1):
        assert o["backlog_max"] > 0 and o["wait_ms"] >= k * 100, o
        check_wait_ms(o["wait_ms"], accepts, o["rport"])


# --- Fast Open, SYN cookies: in a network namespace of their own -----------------

def netns_peer(sysctls, *args):
    """tcppeer in a new network namespace with @sysctls set there; returns
    (ready, accepts, stats), stats being tcppeer's --stats counters."""
    sets = " && ".join(f"sysctl -qw {s}" for s in sysctls)
    script = f'ip link set lo up && {sets} && exec "$@"'
    res = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", PEER, "--stats", *args],
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    text = res.stdout.decode()
    ready, accepts, _ = parse_peer(text)
    stats = {m[0]: int(m[1]) for m in re.findall(r"^STAT (\S+)=(\d+)$", text, re.M)}
    return ready, accepts, stats


def traced_netns(tracer_args, sysctls, *peer_args):
    t = Tracer("-j", "-v", *tracer_args, ready_on_stderr=True)
    ready, accepts, stats = netns_peer(sysctls, *peer_args)
    out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    return parse_json_lines(out), ready, accepts, stats


@pytest.mark.parametrize("family", ["4", "6"])
def test_fast_open(family):
    objs, ready, accepts, stats = traced_netns(
        ["-q"], ["net.ipv4.tcp_fastopen=3"], "--fastopen", "--family", family, "--count", "5")
    # The first connection fetches the cookie, the other four send data
    # in their SYN: Fast Open really happened.
    assert stats.get("TcpExt.TCPFastOpenPassive") == 4, stats
    mine = check_json(objs, accepts, ready["pid"], queue=True)
    assert len(mine) == 5 and {o["proto"] for o in mine} == {"tcp"}
    assert all(o["netns"] != NETNS for o in mine)
    for o in mine:
        # A Fast Open child is queued before its handshake completes.
        assert o["wait_ms"] is None or o["wait_ms"] >= 0, o


@pytest.mark.parametrize("family", ["4", "6"])
def test_syn_cookies(family):
    objs, ready, accepts, stats = traced_netns(
        [], ["net.ipv4.tcp_syncookies=2"], "--family", family, "--count", "5")
    assert stats.get("TcpExt.SyncookiesRecv") == 5, stats
    mine = check_json(objs, accepts, ready["pid"])
    assert len(mine) == 5


def test_mptcp_syn_cookies():
    objs, ready, accepts, stats = traced_netns(
        [], ["net.ipv4.tcp_syncookies=2"], "--proto", "mptcp", "--count", "3")
    assert stats.get("TcpExt.SyncookiesRecv") == 3, stats
    assert {a["proto"] for a in accepts} == {"mptcp"}, accepts
    check_json(objs, accepts, ready["pid"])


# --- --btf ------------------------------------------------------------------------

# Runs a command in a mount namespace where /sys/kernel/btf is empty.
HIDE_BTF = ("unshare", "--mount", "sh", "-c", 'mount -t tmpfs none /sys/kernel/btf && exec "$@"',
            "sh")


def test_btf_file_with_kernel_btf_hidden():
    assert os.path.getsize(MIN_BTF) > 0, f"{MIN_BTF} is not built (make {MIN_BTF})"
    t = Tracer("-j", "-v", f"--btf={MIN_BTF}", wrapper=HIDE_BTF, ready_on_stderr=True)
    ready, accepts = peer("--proto", "mptcp", "--count", "2", "--family", "6")
    ready_t, accepts_t = peer("--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    assert "tcpaccept: way in: tracepoint, listening fd from sys_enter_accept{,4}" in err, err
    objs = parse_json_lines(out)
    check_json(objs, accepts, ready["pid"])
    check_json(objs, accepts_t, ready_t["pid"])


def test_no_btf_message_names_the_option():
    res = subprocess.run([*HIDE_BTF, TCPACCEPT], capture_output=True, timeout=10)
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1, err
    assert "--btf=PATH" in err and "CONFIG_DEBUG_INFO_BTF" in err, err


def test_btf_file_missing():
    res = subprocess.run([TCPACCEPT, "--btf=/nonexistent.btf"], capture_output=True, timeout=10)
    assert res.returncode == 1
    assert res.stderr.decode() == ("tcpaccept: failed to read the BTF file '/nonexistent.btf': "
                                   "No such file or directory\n")


def raw_btf(types, strings):
    """A raw BTF file: the header, then @types (bytes) and @strings."""
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


BTF_KIND_INT, BTF_KIND_STRUCT = 1, 4


def btf_type(name_off, kind, size, extra=b""):
    return struct.pack("<III", name_off, kind << 24, size) + extra


def bad_btf_files(tmp_path):
    """Files that are no usable kernel BTF, and what each is."""
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        vmlinux = f.read()
    garbage = tmp_path / "garbage.btf"
    garbage.write_bytes(b"not BTF at all\n" * 10)
    truncated = tmp_path / "truncated.btf"
    truncated.write_bytes(vmlinux[:100000])
    empty = tmp_path / "empty.btf"
    empty.write_bytes(b"")
    modules = sorted(m for m in os.listdir("/sys/kernel/btf") if m != "vmlinux")
    # Good BTF, but not a kernel's: one int type.
    not_kernel = tmp_path / "int-only.btf"
    not_kernel.write_bytes(raw_btf(btf_type(1, BTF_KIND_INT, 4, struct.pack("<I", 32)),
                                   b"\0int\0"))
    files = [str(garbage), str(truncated), str(empty), "/dev/zero", str(tmp_path),
             str(not_kernel)]
    # A module's BTF holds only its own types, on top of vmlinux's.
    return files + [f"/sys/kernel/btf/{modules[0]}"] if modules else files


def test_bad_btf_file_named_with_libbpf_reason(tmp_path):
    """Each bad --btf file: one line that names it and says what is wrong in
    words (libbpf's own text for its error codes, never 'Unknown error
    4001'), before anything is loaded."""
    for path in bad_btf_files(tmp_path):
        res = subprocess.run([TCPACCEPT, f"--btf={path}"], capture_output=True, timeout=30)
        err = res.stderr.decode()
        assert res.returncode == 1 and res.stdout == b"", (path, res)
        assert err.count("\n") == 1, (path, err)
        assert err.startswith(f"tcpaccept: failed to read the BTF file '{path}': "), (path, err)
        assert "Unknown error" not in err and "way in" not in err, (path, err)
        if path.endswith("int-only.btf"):
            assert err.endswith(": it has no struct sock, so it is not the kernel's types "
                                "(a vmlinux BTF)\n"), err


def test_btf_of_another_kernel_named_when_loading_fails(tmp_path):
    """A BTF with a struct sock that has none of its fields (another kernel's
    types, as far as CO-RE can tell) passes the first check; the load then
    fails, and the message names the file."""
    path = tmp_path / "other-kernel.btf"
    path.write_bytes(raw_btf(btf_type(1, BTF_KIND_STRUCT, 8), b"\0sock\0"))
    res = subprocess.run([TCPACCEPT, f"--btf={path}", "--way=tracepoint"], capture_output=True,
                         timeout=30)
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1, err
    assert err.startswith("tcpaccept: the tracepoint way in is not available: failed to load "
                          f"the BPF programs with the kernel types of --btf '{path}': "), err
    assert "Unknown error" not in err, err
