# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host's kernel, one run of tcpaccept from start to
end: how it ends (signals, a closed pipe, -d), which way in it chooses or is
told (--way, -v), what it refuses before loading anything, and the
capabilities it keeps while tracing.

Each test starts the real ./tcpaccept, waits until it is attached (its
header, or -v's "way in" line), makes connections with tests/peer/tcppeer
and checks what it printed against what tcppeer says it accepted; the
other test_*.py files here do the same for each kind of accept and each
option.
"""
import os
import platform
import re
import signal
import subprocess
import time

import pytest

from tests.lib import TCPACCEPT
from tests.lib.checks import check_rows, header, parse_rows
from tests.lib.host import (STARTED, Tracer, assert_loaded, assert_unloaded, bpf_calls,
                            bpf_objects, die_with_pytest, free_port, no_bpf_calls, peer,
                            run_tcpaccept as run, traced)

TRY_HELP = "Try 'tcpaccept --help' for more information.\n"


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"{what} (waited {timeout}s)"
        time.sleep(0.05)


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


# The number of write() in /proc/PID/syscall while a thread is in it.
WRITE_SYSCALL = {"x86_64": 1, "aarch64": 64}[platform.machine()]


def blocked_in_write(pid):
    with open(f"/proc/{pid}/syscall") as f:
        return f.read().split()[0] == str(WRITE_SYSCALL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_tracing_while_a_write_blocks(sig):
    """`tcpaccept | sleep 20` under load: the reader never reads, the pipe
    fills and tcpaccept blocks in write(). A signal still ends it: what the
    pipe did not take is counted as rows not written, and it detaches."""
    port = free_port()
    rfd, wfd = os.pipe()
    proc = subprocess.Popen([TCPACCEPT, "-v", "-P", str(port)], stdout=wfd,
                            stderr=subprocess.PIPE, preexec_fn=die_with_pytest)
    STARTED.append(proc)
    os.close(wfd)
    err = b""
    while b"tcpaccept: way in: " not in err:
        line = proc.stderr.readline()
        assert line, f"tcpaccept exited before attaching: {err.decode()}"
        err += line
    objs = bpf_objects(proc.pid)
    # A pipe holds 64 KiB and tcpaccept's buffer as much: 4000 rows fill both.
    ready, accepts = peer("--port", str(port), "--count", "4000", "--rst")
    wait_for(lambda: blocked_in_write(proc.pid), 30, "tcpaccept never blocked in write()")
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"tcpaccept still running 30 s after {sig!r} in a blocked write")
    err = (err + proc.stderr.read()).decode()
    with os.fdopen(rfd, "rb") as r:
        taken = r.read()
    assert rc == 0, err
    # Reported as lost events are: steps (once a second), then the total.
    steps = re.findall(r"^tcpaccept: could not write (\d+) rows \(the output took no more "
                       r"after the signal\)$", err, re.M)
    total = re.findall(r"^tcpaccept: could not write (\d+) rows in total\n\Z", err, re.M)
    assert steps and total and sum(map(int, steps)) == int(total[0]), err
    # Every row is either whole in the pipe or counted (a cut one counted).
    whole = taken.count(b"\n")
    assert whole > 1 and whole + int(total[0]) == 1 + len(accepts) == 4001, (whole, total)
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
    # An interactive `tcpaccept | grep` sees a row while tracing goes on,
    # not when a stdio buffer fills: one row alone (-P: nothing else) fills
    # no buffer, so it arrives only if the batch is written out.
    port = free_port()
    t = Tracer("-P", str(port))
    ready, accepts = peer("--port", str(port), "--count", "1")
    t.wait_for(lambda out, err: out.count(b"\n") >= 2, 30, "the row not written while tracing")
    assert t.proc.poll() is None
    out, err, rc = t.stop()
    assert rc == 0, err
    check_rows(parse_rows(out), accepts, ready["pid"])


def test_duration_exits_by_itself():
    start = time.monotonic()
    # A port nobody listens on: no row may show up.
    res = subprocess.run([TCPACCEPT, "-d", "2", "-P", str(free_port())], capture_output=True,
                         timeout=30)
    elapsed = time.monotonic() - start
    assert res.returncode == 0 and res.stderr == b"", res
    # Not before its 2 s (which start after this clock did); how much
    # later is the machine's business.
    assert elapsed >= 2, elapsed
    assert res.stdout.decode().splitlines() == [header()]


# --- choosing the way in ------------------------------------------------------

def kprobes_on_host():
    return (os.path.exists("/sys/bus/event_source/devices/kprobe") or
            os.path.exists("/sys/kernel/tracing/kprobe_events") or
            os.path.exists("/sys/kernel/debug/tracing/kprobe_events"))


WAYS = ["fexit", "kprobe", "tracepoint"]     # auto's order


def test_verbose_says_which_way_and_why():
    """One "way in" line; every way before it in auto's order passed over
    with its reason, none after it; and the way chosen traces."""
    port = free_port()
    t = Tracer("-v", "-P", str(port))
    ready, accepts = peer("--port", str(port), "--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    chosen = re.findall(r"^tcpaccept: way in: (\w+)", err, re.M)
    assert len(chosen) == 1 and chosen[0] in WAYS, err
    passed = re.findall(r"^tcpaccept: passed over (\w+): (.+)$", err, re.M)
    assert [w for w, _ in passed] == WAYS[:WAYS.index(chosen[0])], err
    assert all(len(why) > 10 for _, why in passed), passed
    check_rows(parse_rows(out), accepts, ready["pid"])
    if not kprobes_on_host():
        # This host (lockdown, no kprobes): tracepoints are the only way in.
        assert chosen == ["tracepoint"], chosen
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
    ["--bogus"], ["-y"], ["positional"], ["-p"], ["-p", "abc"], ["-p", "0"], ["-p", "-1"],
    ["-p", "4194305"], ["-p", "99999999999999999999999"], ["-P", ""], ["-P", "80,,81"],
    ["-P", "80,"], ["-P", "0"], ["-P", "65536"], ["-P", "90-80"], ["-4", "-6"],
    ["--way=bogus"], ["--way"], ["--backend=bogus"], ["--backend"], ["--ring-kb=3"],
    ["--ring-kb=3000"], ["-t", "extra"], ["-P", "http"],
    # One value each: given twice is refused, never "the last one wins".
    ["-p", "1", "-p", "2"], ["-o", "/tmp/a", "--output=/tmp/b"], ["--way=auto", "--backend=tracepoint"],
]


def test_repeated_option_with_one_value_refused(tmp_path):
    for args, name in ((["-p", "1", "-p", "1"], "-p/--pid"),
                       (["-d", "1", "--duration=2"], "-d/--duration"),
                       (["--btf=/a", "--btf=/b"], "--btf"),
                       (["-o", str(tmp_path / "a"), "-o", str(tmp_path / "b")], "-o/--output")):
        res, calls = no_bpf_calls(tmp_path, *args)
        assert res.returncode == 64 and res.stdout == b"" and calls == [], (args, res)
        assert res.stderr.decode() == f"tcpaccept: {name} given more than once: it takes one value\n", args
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")


def test_bad_command_lines_refused_before_loading(tmp_path):
    # strace proves no bpf() call was made at all, let alone a load.
    for args in BAD_COMMAND_LINES:
        res, calls = bpf_calls(tmp_path, *args)
        err = res.stderr.decode()
        assert res.returncode == 64, (args, res.returncode, err)
        # One line; after a wrong option name or a stray argument, a "Try" line.
        lines = err.splitlines(keepends=True)
        assert err.startswith("tcpaccept: ") and (
            len(lines) == 1 or lines[1:] == ["Try 'tcpaccept --help' for more information.\n"]), (args, err)
        assert res.stdout == b"", args
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


# --- capabilities -------------------------------------------------------------

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


# --- unknown option: Try --help ---------------------------------------------------

def test_unknown_option_says_try_help(tmp_path):
    for args, first in ((["--bogus"], "unrecognized option '--bogus'"),
                        (["-Z"], "invalid option -- 'Z'"),
                        (["-p"], "option requires an argument -- 'p'"),
                        (["80"], "unexpected argument '80'")):
        res, calls = no_bpf_calls(tmp_path, *args)
        assert res.returncode == 64, (args, res)
        assert res.stderr.decode() == f"tcpaccept: {first}\n{TRY_HELP}", args
        assert res.stdout == b"" and calls == [], (args, calls)
    # A bad value says what is wanted in its one line: no Try line.
    res = run("-d", "0")
    assert res.returncode == 64
    assert res.stderr.decode() == "tcpaccept: invalid duration '0': expected 1-31536000 seconds\n"
