# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host's kernel: the real binary, real sockets.

Each test starts ./tcpaccept, waits for its header (printed only once the
programs are attached), makes connections with tests/peer/tcppeer, stops
the tracer and checks every field of every row against what tcppeer says
it accepted.
"""
import os
import signal
import subprocess
import time

import pytest

from harness import (PEER, STARTED, TCPACCEPT, Tracer, WaitingPeer, assert_loaded,
                     assert_unloaded, bpf_objects, die_with_pytest, free_port, peer, traced)
from tcpaccept_testlib import check_rows, parse_peer, parse_rows


# --- every field, every family ----------------------------------------------

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


# --- filters ----------------------------------------------------------------

def test_pid_filter():
    traced_peer = WaitingPeer("--count", "3")
    t = Tracer("-p", str(traced_peer.pid))
    _, other = peer("--count", "3")
    other_pid = int(other[0]["pid"])
    accepts = traced_peer.go()
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, accepts, traced_peer.pid)
    assert {r["pid"] for r in rows} == {traced_peer.pid}, f"other PID {other_pid} leaked"


def test_port_filter_two_ports():
    traced_port, untraced_port, listed_port = free_port(), free_port(), free_port()
    t = Tracer("-P", f"{traced_port},{listed_port}")
    ready_a, accepts_a = peer("--port", str(traced_port), "--count", "3")
    ready_b, accepts_b = peer("--port", str(untraced_port), "--count", "3")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, accepts_a, ready_a["pid"])
    assert {r["lport"] for r in rows} == {traced_port}
    assert not [r for r in rows if r["pid"] == ready_b["pid"]]


@pytest.mark.parametrize("flag,kept", [("-4", {4}), ("-6", {6})])
def test_family_filter(flag, kept):
    t = Tracer(flag)
    results = [peer("--family", fam, "--count", "2") for fam in ("4", "6", "mapped")]
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    for (ready, accepts), fam in zip(results, ("4", "6", "mapped")):
        ip = 4 if fam == "4" else 6
        if ip in kept:
            check_rows(rows, accepts, ready["pid"])
        else:
            assert not [r for r in rows if r["pid"] == ready["pid"]], f"{flag} let {fam} through"


# --- time columns -----------------------------------------------------------

def test_timestamp_column():
    rows, ready, accepts, _ = traced(["-t"], "--count", "3", "--delay-accept", "200",
                                     timestamp=True)
    check_rows(rows, accepts, ready["pid"])
    ts = [float(r["ts"]) for r in rows if r["pid"] == ready["pid"]]
    assert ts[0] == 0.0 if rows[0]["pid"] == ready["pid"] else True
    assert ts == sorted(ts) and ts[-1] - ts[0] >= 0.35, ts


def test_time_columns_both():
    before = time.time()
    rows, ready, accepts, _ = traced(["-T", "-t"], "--count", "2", wallclock=True,
                                     timestamp=True)
    after = time.time()
    check_rows(rows, accepts, ready["pid"])
    allowed = {time.strftime("%H:%M:%S", time.localtime(s))
               for s in range(int(before) - 1, int(after) + 2)}
    for r in rows:
        assert r["time"] in allowed, (r["time"], allowed)


def test_time_column_alone():
    rows, ready, accepts, _ = traced(["-T"], "--count", "1", wallclock=True)
    check_rows(rows, accepts, ready["pid"])


# --- how it ends ------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_exits_zero_and_detaches(sig):
    t = Tracer()
    objs = t.objects()
    assert_loaded(objs)
    ready, accepts = peer("--count", "2")
    out, err, rc = t.stop(sig)
    assert rc == 0 and err == "", (rc, err)
    check_rows(parse_rows(out), accepts, ready["pid"])
    assert_unloaded(objs)


def test_closed_pipe_exits_quietly():
    # Like `tcpaccept | head -1`: the reader goes away after one line.
    proc = subprocess.Popen([TCPACCEPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=die_with_pytest)
    STARTED.append(proc)
    assert proc.stdout.readline().startswith(b"PID ")
    objs = bpf_objects(proc.pid)
    proc.stdout.close()
    peer("--count", "2")
    rc = proc.wait(timeout=10)
    err = proc.stderr.read().decode()
    assert rc == 0 and err == "", (rc, err)
    assert_unloaded(objs)


def test_output_to_pipe_is_flushed_per_batch():
    # An interactive `tcpaccept | grep` sees a row within a poll period,
    # not when a stdio buffer fills.
    t = Tracer()
    ready, accepts = peer("--count", "1")
    sent = time.monotonic()
    t.wait_for(lambda out, err: out.count(b"\n") >= 2, 5, "no row")
    latency = time.monotonic() - sent
    out, err, rc = t.stop()
    assert rc == 0, err
    check_rows(parse_rows(out), accepts, ready["pid"])
    assert latency < 1.0, f"row arrived after {latency:.2f}s"


# --- choosing the way in ------------------------------------------------------

def kprobes_on_host():
    return (os.path.exists("/sys/bus/event_source/devices/kprobe") or
            os.path.exists("/sys/kernel/tracing/kprobe_events") or
            os.path.exists("/sys/kernel/debug/tracing/kprobe_events"))


def test_verbose_says_which_way_and_why():
    t = Tracer("-v")
    out, err, rc = t.stop()
    assert rc == 0, err
    chosen = [line for line in err.splitlines() if line.startswith("tcpaccept: way in: ")]
    assert len(chosen) == 1, err
    if not kprobes_on_host():
        # This host (lockdown, no kprobes): tracepoints are the only way in.
        assert chosen[0].startswith("tcpaccept: way in: tracepoint"), chosen
        assert "tcpaccept: passed over fexit: " in err, err
        assert "tcpaccept: passed over kprobe: the kernel has no kprobes" in err, err


def test_forced_tracepoint():
    rows, ready, accepts, _ = traced(["--way=tracepoint"], "--count", "2")
    check_rows(rows, accepts, ready["pid"])


def test_backend_still_forces_the_way_in():
    """--backend, --way's earlier name, is hidden from --help but still
    accepted: existing scripts and units keep working."""
    rows, ready, accepts, err = traced(["--backend", "tracepoint", "-v"], "--count", "2")
    check_rows(rows, accepts, ready["pid"])
    chosen = [line for line in err.splitlines() if line.startswith("tcpaccept: way in: ")]
    assert len(chosen) == 1 and chosen[0].startswith("tcpaccept: way in: tracepoint"), err
    assert chosen[0].endswith(" (forced by --way)"), chosen


@pytest.mark.skipif(kprobes_on_host(), reason="the host has kprobes")
@pytest.mark.parametrize("way", ["fexit", "kprobe"])
def test_forced_unavailable_way_fails_clearly(way):
    res = subprocess.run([TCPACCEPT, f"--way={way}"], capture_output=True, timeout=30)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.startswith(f"tcpaccept: the {way} way in is not available: "), err
    assert err.count("\n") == 1, err


# --- refusals -----------------------------------------------------------------

BAD_COMMAND_LINES = [
    ["--bogus"], ["-x"], ["positional"], ["-p"], ["-p", "abc"], ["-p", "0"], ["-p", "-1"],
    ["-p", "4194305"], ["-p", "99999999999999999999999"], ["-P", ""], ["-P", "80,,81"],
    ["-P", "80,"], ["-P", "0"], ["-P", "65536"], ["-P", ",".join(["80"] * 65)], ["-4", "-6"],
    ["--way=bogus"], ["--way"], ["--backend=bogus"], ["--backend"], ["--ring-kb=3"],
    ["--ring-kb=3000"], ["-t", "extra"], ["-P", "http"],
]


def test_bad_command_lines_refused_before_loading(tmp_path):
    # strace proves no bpf() call was made at all, let alone a load.
    trace = tmp_path / "strace"
    for args in BAD_COMMAND_LINES:
        res = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf,perf_event_open",
                              "-o", str(trace), TCPACCEPT, *args],
                             capture_output=True, timeout=10)
        err = res.stderr.decode()
        assert res.returncode == 64, (args, res.returncode, err)
        assert err.startswith("tcpaccept: ") and err.count("\n") == 1, (args, err)
        assert res.stdout == b"", args
        calls = [l for l in trace.read_text().splitlines() if "bpf(" in l or "perf_event_open(" in l]
        assert calls == [], (args, calls)
    assert len(BAD_COMMAND_LINES) >= 20


def test_unprivileged_user_refused():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "--inh-caps=-all", TCPACCEPT], capture_output=True, timeout=10)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err == "tcpaccept: needs root, or the CAP_BPF and CAP_PERFMON capabilities\n", err


def test_no_kernel_btf_refused():
    # A private mount namespace where /sys/kernel/btf is an empty tmpfs.
    res = subprocess.run(["unshare", "--mount", "sh", "-c",
                          f"mount -t tmpfs none /sys/kernel/btf && exec {TCPACCEPT}"],
                         capture_output=True, timeout=10)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.count("\n") == 1 and "CONFIG_DEBUG_INFO_BTF" in err, err


def test_help_and_version():
    res = subprocess.run([TCPACCEPT, "-h"], capture_output=True, timeout=10)
    assert res.returncode == 0 and b"EXAMPLES:" in res.stdout and res.stderr == b""
    res = subprocess.run([TCPACCEPT, "--version"], capture_output=True, timeout=10)
    assert res.returncode == 0 and res.stdout.startswith(b"tcpaccept ") and b"libbpf" in res.stdout


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


def capabilities(pid):
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)
                if k.startswith("Cap") or k == "NoNewPrivs"}


def test_capabilities_dropped_while_tracing():
    t = Tracer("-v")
    caps = capabilities(t.proc.pid)
    ready, accepts = peer("--count", "3")
    out, err, rc = t.stop()
    assert rc == 0, err
    assert caps == {"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16,
                    "CapBnd": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": "1"}, caps
    assert "tcpaccept: dropped every capability: tracing needs none from here on" in err
    # ... and it still traced, and detached at exit.
    check_rows(parse_rows(out), accepts, ready["pid"])


def test_count_mode_keeps_only_cap_bpf():
    t = Tracer("-c", "-v", ready_on_stderr=True)
    caps = capabilities(t.proc.pid)
    ready, _ = peer("--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    cap_bpf = f"{1 << 39:016x}"
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == cap_bpf, caps
    assert f"{ready['pid']:<7} tcppeer-srv  4  127.0.0.1        {ready['port']:<5} 2" in out, out
