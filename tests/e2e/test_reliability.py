# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Reliability and security, end to end on this host's kernel.

- Floods: the smallest ring buffer overflows, every lost event is counted
  (rows printed + events reported lost == accepts made) and tracing goes
  on; the default ring loses nothing.
- Faults: SIGKILL, ten instances at once stopped by a mix of signals, a
  failing stdout: nothing of tcpaccept's stays loaded in the kernel (the
  BPF program, link and map IDs each instance held are checked one by one,
  so other tracers running on the host do not matter).
- Hostile task names: a name with terminal escapes and a newline stays one
  escaped, parseable row.
- valgrind memcheck (only when `make valgrind` sets TCPACCEPT_VALGRIND to
  the dynamically linked build): no error, no leak, rows right.

Events are filtered in the kernel by the peer's port or PID, so a flood
made by something else on the host cannot fill our ring buffer.
"""
import errno
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.lib import TCPACCEPT, cgroups
from tests.lib.cgroups import LAYOUTS, CgroupTree, in_cgroup
from tests.lib.checks import (LOST_RE, check_rows, comm_column, expected_keys, header, one,
                              parse_prom, parse_rows, peer_comm_bytes, row_key, series)
from tests.lib.host import Tracer, WaitingPeer, assert_loaded, assert_unloaded, free_port, peer

# Set by `make valgrind`: the build valgrind can check (not fully static).
VG_APP = os.environ.get("TCPACCEPT_VALGRIND")
VALGRIND = os.environ.get("VALGRIND", "valgrind")
VG_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")

LOST_LINE = re.compile(r"^tcpaccept: lost (\d+) events \(.*\)$")
LOST_TOTAL = re.compile(r"^tcpaccept: lost (\d+) events in total$")
# Any 4 KiB ring holds fewer records than this: an event carries two
# 16-byte addresses, a 16-byte name and an 8-byte time, the record header
# is 8 bytes.
SMALL_RING_MAX_RECORDS = 4096 // 64


def rows_of(out, pid, **kw):
    return [r for r in parse_rows(out, **kw) if r["pid"] == pid]


def count_rows(out_bytes, pid):
    """Rows of @pid in raw output so far (no parsing of partial lines)."""
    return sum(1 for line in out_bytes.split(b"\n")[1:-1]
               if line.split(b" ", 1)[0] == str(pid).encode())


def process_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def lost_report(err):
    """Checks that stderr holds only lost-event lines, the total last and
    equal to their sum; returns the total (0 if nothing was lost)."""
    lines = err.splitlines()
    if not lines:
        return 0
    steps = []
    for line in lines[:-1]:
        m = LOST_LINE.match(line)
        assert m, f"unexpected stderr line {line!r}:\n{err}"
        steps.append(int(m.group(1)))
    m = LOST_TOTAL.match(lines[-1])
    assert m, f"no 'lost N events in total' line at the end:\n{err}"
    total = int(m.group(1))
    assert steps and all(steps) and sum(steps) == total, f"{steps} do not add up to {total}"
    return total


# --- floods -------------------------------------------------------------------

def test_flood_small_ring_counts_every_lost_event():
    # The smallest ring during a burst of 3000 accepts from 4 client threads:
    # what is not printed is counted, and what is printed is right.
    port = free_port()
    t = Tracer("--ring-kb=4", "-P", str(port))
    ready, accepts = peer("--port", str(port), "--count", "3000", "--client-threads", "4")
    out, err, rc = t.stop()
    assert rc == 0, err
    assert len(accepts) == 3000
    rows = rows_of(out, ready["pid"])
    assert len(parse_rows(out)) == len(rows), "rows of another process on the port"
    lost = lost_report(err)
    assert len(rows) + lost == 3000, f"{len(rows)} rows + {lost} lost != 3000 accepts"
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"]) for r in rows)
    extra = got - Counter(expected_keys(accepts))
    assert not extra, f"rows that are no accept of the peer (or twice): {list(extra)[:3]}"


def test_overflow_is_reported_while_running_and_tracing_goes_on():
    # The reader is stopped, so the 4 KiB ring must overflow: the loss is
    # reported within a second of going on, and later accepts are all seen.
    port = free_port()
    t = Tracer("--ring-kb=4", "-P", str(port))
    os.kill(t.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 5
        while process_state(t.pid) != "T":
            assert time.monotonic() < deadline, "tcpaccept did not stop"
            time.sleep(0.01)
        ready1, accepts1 = peer("--port", str(port), "--count", "3000", "--client-threads", "4")
    finally:
        os.kill(t.pid, signal.SIGCONT)
    t.wait_for(lambda out, err: LOST_LINE.search(err.splitlines()[0] if err else ""), 10,
               "no 'lost N events' line while running")
    lost_while_running = int(LOST_LINE.match(t.err().splitlines()[0]).group(1))
    # The reader has emptied the ring before it reported the loss: 20 more
    # events fit whatever the scheduling, so none may be lost.
    ready2, accepts2 = peer("--port", str(port), "--count", "20")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows1 = rows_of(out, ready1["pid"])
    lost = lost_report(err)
    assert 0 < len(rows1) < SMALL_RING_MAX_RECORDS, len(rows1)
    assert lost == lost_while_running == 3000 - len(rows1), (lost, lost_while_running, len(rows1))
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"]) for r in rows1)
    assert not got - Counter(expected_keys(accepts1)), "wrong rows from the ring that filled"
    check_rows(parse_rows(out), accepts2, ready2["pid"])


def test_flood_default_ring_loses_nothing():
    port = free_port()
    t = Tracer("-P", str(port))
    ready, accepts = peer("--port", str(port), "--count", "3000", "--client-threads", "4")
    out, err, rc = t.stop()
    assert rc == 0 and err == "", (rc, err)
    assert len(accepts) == 3000
    check_rows(parse_rows(out), accepts, ready["pid"])


# --- faults -------------------------------------------------------------------

def test_sigkill_leaves_nothing_loaded():
    t = Tracer()
    objs = t.objects()
    assert_loaded(objs)
    out, err, rc = t.stop(signal.SIGKILL)
    assert rc == -signal.SIGKILL, (rc, err)
    assert_unloaded(objs)


def test_ten_instances_at_once_then_mixed_signals():
    port = free_port()
    wp = WaitingPeer("--port", str(port), "--count", "300", "--client-threads", "2")
    # Half filter by port, half by PID; all are started before any attaches.
    tracers = [Tracer("-P", str(port)) if i % 2 else Tracer("-p", str(wp.pid), wait=False)
               for i in range(10)]
    for t in tracers:
        t.wait_header(60)
    objs = [t.objects() for t in tracers]
    for o in objs:
        assert_loaded(o)
    progs = [o["prog"] for o in objs]
    assert all(not a & b for i, a in enumerate(progs) for b in progs[i + 1:]), \
        "two instances share a program"
    accepts = wp.go()
    assert len(accepts) == 300
    for t in tracers:
        t.wait_for(lambda out, err: count_rows(out, wp.pid) >= 300, 30,
                   "not every accept printed")
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL] * 3 + [signal.SIGINT]
    for t, sig in zip(tracers, sigs):
        t.proc.send_signal(sig)
    for t, sig in zip(tracers, sigs):
        out, err, rc = t.stop(None)
        if sig == signal.SIGKILL:
            assert rc == -signal.SIGKILL, (rc, err)
        else:
            assert rc == 0 and err == "", (sig, rc, err)
        check_rows(parse_rows(out), accepts, wp.pid)
    for o in objs:
        assert_unloaded(o)


def test_two_instances_both_see_every_accept():
    port = free_port()
    a = Tracer("-P", str(port))
    b = Tracer("-P", str(port))
    ready, accepts = peer("--port", str(port), "--count", "1000", "--client-threads", "2")
    assert len(accepts) == 1000
    for t in (a, b):
        out, err, rc = t.stop()
        assert rc == 0 and err == "", (rc, err)
        check_rows(parse_rows(out), accepts, ready["pid"])


def test_failing_stdout_exits_1_with_one_line():
    # stdout on /dev/full: the header cannot be written; tcpaccept says so
    # once and exits 1 (under valgrind, below: freeing everything).
    with open("/dev/full", "wb") as full:
        proc = subprocess.Popen([TCPACCEPT], stdout=full, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=30)
    err = err.decode()
    assert proc.returncode == 1, (proc.returncode, err)
    assert err == "tcpaccept: failed to write output: No space left on device\n", err


# --- out of disk space ------------------------------------------------------------

UNWRITTEN_LINE = re.compile(r"^tcpaccept: could not write (\d+) rows \(No space left on "
                            r"device\)$")
UNWRITTEN_TOTAL = re.compile(r"^tcpaccept: could not write (\d+) rows in total$")


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs of the test's own."""
    d = tmp_path / "small"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tcpaccept-test", d],
                   check=True, timeout=30)
    try:
        yield d
    finally:
        subprocess.run(["umount", d], check=True, timeout=30)


def fill(path):
    """Writes zeros to @path until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        # The last page taken in part: full means no byte fits.
        try:
            while True:
                f.write(b"\0")
        except OSError as e:
            assert e.errno == errno.ENOSPC, e


def test_out_of_disk_keeps_whole_rows_counts_the_rest_and_resumes(small_fs):
    """-o on a full file system: no half row stays in the file; the rows
    that did not fit are counted, as lost events are; tracing goes on, and
    writing resumes once there is room."""
    log, filler = small_fs / "rows", small_fs / "filler"
    prom = small_fs.parent / "tcpaccept.prom"
    port = free_port()
    t = Tracer("-v", "-P", str(port), "-o", str(log), f"--metrics={prom}", ready_on_stderr=True)
    t.wait_for(lambda o, e: log.read_text().startswith(header()), 10, "no header")
    fill(filler)
    os.truncate(filler, os.path.getsize(filler) - 4096)   # room for some rows, not all
    ready1, accepts1 = peer("--port", str(port), "--count", "400")
    t.wait_for(lambda o, e: "rows (No space left on device)" in e, 10, "no 'could not write'")
    os.unlink(filler)
    ready2, accepts2 = peer("--port", str(port), "--count", "20", "--comm", "after-space")
    t.wait_for(lambda o, e: log.read_text().count("after-space") == 20, 10,
               "no rows written once there was room")
    out, err, rc = t.stop()
    assert rc == 0 and out == "", (rc, err)
    text = log.read_text()
    assert text.endswith("\n"), text[-200:]
    rows = parse_rows(text)     # every line a whole row
    rows1 = [r for r in rows if r["pid"] == ready1["pid"]]
    assert len(rows) == len(rows1) + 20, "rows of another process on the port"
    check_rows([r for r in rows if r["pid"] == ready2["pid"]], accepts2, ready2["pid"])
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"]) for r in rows1)
    assert not got - Counter(expected_keys(accepts1)), "rows that are no accept (or cut)"
    # Every accept is in the file or counted.
    lines = [l for l in err.splitlines() if l.startswith("tcpaccept: could not write")]
    steps = [int(UNWRITTEN_LINE.match(l).group(1)) for l in lines[:-1]]
    total = int(UNWRITTEN_TOTAL.match(lines[-1]).group(1))
    assert steps and sum(steps) == total, lines
    assert 0 < len(rows1) and len(rows1) + total == 400, (len(rows1), total)
    assert one(parse_prom(prom.read_text()), "tcpaccept_unwritten_rows_total") == total
    assert not LOST_RE.search(err), err


# --- hostile task names ---------------------------------------------------------

HOSTILE_NAMES = [
    # Clear the screen, break the line and fake a row (cut to 15 bytes by
    # the kernel, to the whole escapes that fit in 12 characters by
    # tcpaccept: the space's \x20 does not).
    (r"\x1b[2J\n fake 1.2.3.4", r"\x1b[2J\x0a"),
    # A backslash, DEL, a byte above 0x7f, tab, CR and a quote.
    (r"\\\x7f\xff\t\r\x22", r"\x5c\x7f\xff"),
    # The cut falls before the escape that would not fit, never inside it.
    (r"a\x01b\x08c\x9bd", "a\\x01b\\x08c"),
    # Spaces would forge columns: awk '{print $4}' must not find a fake RADDR.
    ("x 4 1.2.3.4 9", r"x\x204\x201."),
]


def hostile_run(name, *tracer_args):
    port = free_port()
    count = "-c" in tracer_args
    # -c prints its table at exit, no header: -v says when it is attached.
    t = Tracer("-P", str(port), *tracer_args, *(["-v"] if count else []), wait=not count)
    if count:
        t.wait_for(lambda out, err: "tcpaccept: way in: " in err, 30, "no 'way in' line")
    ready, accepts = peer("--port", str(port), "--count", "3", "--comm", name)
    out, err, rc = t.stop()
    assert rc == 0 and (count or err == ""), (rc, err)
    assert not re.search(r"^tcpaccept: lost ", err, re.M), err
    raw = t.out()
    bad = [b for b in raw if (b < 0x20 and b != 0x0a) or b >= 0x7f]
    assert not bad, f"raw bytes {bad[:5]} in the output: {raw!r}"
    assert len(accepts) == 3
    return out, ready, accepts, peer_comm_bytes(accepts[0]["comm"])


@pytest.mark.parametrize("name,shown", HOSTILE_NAMES)
def test_hostile_task_name_is_one_escaped_row(name, shown):
    out, ready, accepts, raw_name = hostile_run(name)
    lines = out.splitlines()
    assert len(lines) == 1 + 3, f"want the header and 3 rows:\n{out}"
    rows = parse_rows(out)
    comm = comm_column(raw_name)
    assert comm == shown, (comm, shown)
    for r in rows:
        assert r["pid"] == ready["pid"], r
        # The COMM column by position: after "%-7u " (PIDs have at most 7 digits).
        assert r["line"][8:21] == shown.ljust(12) + " ", r["line"]
        # The shell's way: awk's fields are the columns, whatever the name.
        fields = r["line"].split()
        assert len(fields) == 7 and fields[3] == r["raddr"], r["line"]
    want = Counter(row_key(a["pid"], comm, a["ip"], a["raddr"], a["rport"],
                           a["laddr"], a["lport"]) for a in accepts)
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"]) for r in rows)
    assert got == want, (got, want)


@pytest.mark.parametrize("name,shown", HOSTILE_NAMES)
def test_hostile_task_name_in_count_table(name, shown):
    # -c: the kernel counts by name, the table shows it escaped the same way.
    out, ready, accepts, raw_name = hostile_run(name, "-c")
    lines = out.splitlines()
    assert len(lines) == 2, f"want the header and one row:\n{out}"
    assert lines[0].split() == ["PID", "COMM", "IP", "LADDR", "LPORT", "ACCEPTS"], lines[0]
    row = lines[1]
    assert row[:8] == f"{ready['pid']:<7} " and row[8:21] == shown.ljust(12) + " ", row
    a = accepts[0]
    assert row[21:].split() == [a["ip"], a["laddr"], a["lport"], "3"], row


# --- valgrind memcheck (make valgrind) --------------------------------------------

if VG_APP:
    def valgrind_wrapper(log):
        return (VALGRIND, "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", f"--suppressions={VG_SUPP}",
                f"--log-file={log}")

    def check_valgrind_log(log, rc, want_rc):
        with open(log) as f:
            text = f.read()
        assert rc == want_rc, f"exit status {rc}, want {want_rc}:\n{text}"
        assert re.search(r"ERROR SUMMARY: 0 errors from 0 contexts", text), text
        assert ("All heap blocks were freed -- no leaks are possible" in text or
                re.search(r"definitely lost: 0 bytes in 0 blocks", text)), text
        assert "indirectly lost: 0 bytes" in text or "no leaks are possible" in text, text

    def test_valgrind_traces_without_errors_or_leaks(tmp_path):
        # -T -t and a hostile name exercise every column and the escaping.
        log = tmp_path / "valgrind.log"
        ports = [free_port() for _ in range(3)]
        t = Tracer("-T", "-t", "-P", ",".join(map(str, ports)), binary=VG_APP,
                   wrapper=valgrind_wrapper(log), header_timeout=180)
        runs = [peer("--port", str(ports[0]), "--count", "100", "--client-threads", "2"),
                peer("--port", str(ports[1]), "--family", "6", "--accept4", "--count", "5"),
                peer("--port", str(ports[2]), "--family", "mapped", "--count", "5",
                     "--comm", r"\x1b[2J\n fake 1.2.3.4")]
        want = sum(len(a) for _, a in runs)
        t.wait_for(lambda out, err: out.count(b"\n") >= 1 + want, 60, "rows missing")
        out, err, rc = t.stop(signal.SIGINT, timeout=120)
        check_valgrind_log(log, rc, 0)
        assert err == "", err
        rows = parse_rows(out, wallclock=True, timestamp=True)
        assert len(rows) == want, out
        for ready, accepts in runs[:2]:
            check_rows(rows, accepts, ready["pid"])
        hostile = [r for r in rows if r["pid"] == runs[2][0]["pid"]]
        assert len(hostile) == 5 and all(r["comm"] == r"\x1b[2J\x0a" for r in hostile), hostile

    def test_valgrind_lost_events_path(tmp_path):
        # The ring overflows while tcpaccept is stopped: the lost-event
        # reports, SIGTERM and the -q -U -w columns run under memcheck too.
        log = tmp_path / "valgrind.log"
        port = free_port()
        t = Tracer("--ring-kb=4", "-q", "-U", "-w", "-P", str(port), binary=VG_APP,
                   wrapper=valgrind_wrapper(log), header_timeout=180)
        os.kill(t.pid, signal.SIGSTOP)
        try:
            while process_state(t.pid) != "T":
                time.sleep(0.01)
            ready, accepts = peer("--port", str(port), "--count", "500")
        finally:
            os.kill(t.pid, signal.SIGCONT)
        t.wait_for(lambda out, err: "lost" in err, 60, "no lost line")
        out, err, rc = t.stop(signal.SIGTERM, timeout=120)
        check_valgrind_log(log, rc, 0)
        lines = out.splitlines()
        assert lines[0].split() == ["UID", "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR",
                                    "LPORT", "BL", "WAIT(ms)"], lines[0]
        rows = [line.split() for line in lines[1:]]
        want = {(0, ready["pid"], "tcppeer-srv", 4, "127.0.0.1", int(a["rport"]), "127.0.0.1",
                 port) for a in accepts}
        assert all(len(r) == 10 and (int(r[0]), int(r[1]), r[2], int(r[3]), r[4], int(r[5]),
                                     r[6], int(r[7])) in want for r in rows), out
        assert 0 < len(rows) and len(rows) + lost_report(err) == 500, (len(rows), err)

    def test_valgrind_count_table(tmp_path):
        # -c: the counts are read from a map and sorted at exit.
        log = tmp_path / "valgrind.log"
        ports = [free_port() for _ in range(2)]
        t = Tracer("-c", "-v", "-P", ",".join(map(str, ports)), binary=VG_APP,
                   wrapper=valgrind_wrapper(log), wait=False)
        t.wait_for(lambda out, err: "tcpaccept: way in: " in err, 180, "no 'way in' line")
        runs = [peer("--port", str(ports[0]), "--count", "7"),
                peer("--port", str(ports[1]), "--count", "3", "--comm", "counted")]
        out, err, rc = t.stop(signal.SIGINT, timeout=120)
        check_valgrind_log(log, rc, 0)
        lines = out.splitlines()
        assert lines[0].split() == ["PID", "COMM", "IP", "LADDR", "LPORT", "ACCEPTS"], out
        # Most accepts first.
        assert [line.split() for line in lines[1:]] == [
            [str(runs[0][0]["pid"]), "tcppeer-srv", "4", "127.0.0.1", str(ports[0]), "7"],
            [str(runs[1][0]["pid"]), "counted", "4", "127.0.0.1", str(ports[1]), "3"]], out

    def test_valgrind_failed_counts_and_metrics(tmp_path):
        # -c -x -i 1 with --metrics: the listeners read every second
        # (memos grow past their first allocation, closed listeners are
        # drained and given to --metrics' totals), error rows counted.
        log, prom = tmp_path / "valgrind.log", tmp_path / "m.prom"
        ports = set()
        while len(ports) < 70:  # free_port() is random: two could be one
            ports.add(free_port())
        ports = sorted(ports)
        t = Tracer("-c", "-x", "-v", "-i", "1", f"--metrics={prom}",
                   "-P", ",".join(map(str, ports)), binary=VG_APP,
                   wrapper=valgrind_wrapper(log), wait=False)
        t.wait_for(lambda out, err: "tcpaccept: way in: " in err, 180, "no 'way in' line")
        for port in ports[:-1]:
            peer("--port", str(port), "--count", "1")
        ready, _ = peer("--port", str(ports[-1]), "--count", "2", "--emfile", "3",
                        "--comm", "failing")
        t.wait_for(lambda out, err: b" failing " in out, 60, "no row of the failing server")
        out, err, rc = t.stop(signal.SIGINT, timeout=120)
        check_valgrind_log(log, rc, 0)
        s = parse_prom(prom.read_text())
        assert len(series(s, "tcpaccept_listen_drops_total")) >= len(ports), s
        assert one(s, "tcpaccept_accept_errors_total", comm="failing", errno="EMFILE") == 3
        rows = [line.split() for line in out.splitlines() if " failing " in line]
        assert ["2", "0", "3"] in [r[-3:] for r in rows], out

    def test_valgrind_metrics_eviction_reopen_and_stop(tmp_path):
        # --metrics with one series a metric: a second listener takes the
        # first's place once it is idle (series.c, the map deletes); -o
        # reopened on SIGHUP; SIGTERM's stop path. All under memcheck.
        log, prom, rows = tmp_path / "valgrind.log", tmp_path / "m.prom", tmp_path / "rows"
        a_port, b_port = free_port(), free_port()
        t = Tracer("-v", "-P", f"{a_port},{b_port}", f"--metrics={prom}", "-i", "1",
                   "--metrics-max-series=1", "-o", str(rows), binary=VG_APP,
                   wrapper=valgrind_wrapper(log), ready_on_stderr=True, header_timeout=180)
        writes = 0
        last = None

        def next_write():
            nonlocal writes, last
            deadline = time.monotonic() + 60
            while True:
                text = prom.read_text() if prom.exists() else ""
                m = re.search(r"^tcpaccept_metrics_timestamp_seconds (\S+)$", text, re.M)
                if m and m.group(1) != last:
                    last, writes = m.group(1), writes + 1
                    return parse_prom(text)
                assert time.monotonic() < deadline, "no metrics write"
                time.sleep(0.1)
        a, _ = peer("--port", str(a_port), "--count", "2")
        for _ in range(5):
            s = next_write()
        os.rename(rows, tmp_path / "rows.1")
        t.proc.send_signal(signal.SIGHUP)
        for _ in range(8):
            peer("--port", str(b_port), "--count", "1", "--comm", "second")
            s = next_write()
            if series(s, "tcpaccept_accepts_total", comm="second"):
                break
        out, err, rc = t.stop(signal.SIGTERM, timeout=120)
        check_valgrind_log(log, rc, 0)
        s = parse_prom(prom.read_text())
        assert series(s, "tcpaccept_accepts_total", comm="second"), s
        assert one(s, "tcpaccept_series_evicted_total", metric="tcpaccept_accepts_total") == 1
        assert rows.read_text().startswith(header()) and "second" in rows.read_text()

    def test_valgrind_services(tmp_path):
        # Issue 22's paths: the walk and the cgroup_mkdir feed (identity.c,
        # cgroup.c), -S's names, --container's walk and map, --metrics-labels'
        # naming and merging of series; an ambiguous --container's exit.
        log, prom = tmp_path / "valgrind.log", tmp_path / "m.prom"
        with CgroupTree() as tree:
            before = tree.make(LAYOUTS["docker-systemd"].path)
            t = Tracer("-S", f"--container={cgroups.ID_A[:8]},{cgroups.ID_B[:8]}",
                       f"--metrics={prom}", "--metrics-labels=container,unit", "-i", "1",
                       binary=VG_APP, wrapper=valgrind_wrapper(log), header_timeout=180)
            servers = {}
            for name, d in (("docker-systemd", before),
                            ("kubepods-cgroupfs", tree.make(LAYOUTS["kubepods-cgroupfs"].path)),
                            ("none", tree.make(LAYOUTS["none"].path))):
                server = WaitingPeer("--count", "2", prefix=in_cgroup(d))
                servers[name] = (server.pid, server.go())
            t.wait_for(lambda out, err: out.count(b"\n") >= 5, 60, "rows missing")
            out, err, rc = t.stop(signal.SIGINT, timeout=120)
        check_valgrind_log(log, rc, 0)
        rows = parse_rows(out, service=True)
        for name, (pid, accepts) in servers.items():
            if name == "none":
                assert not [r for r in rows if r["pid"] == pid], out
                continue
            check_rows(rows, accepts, pid)
            want = LAYOUTS[name].container[:12]
            assert {r["service"] for r in rows if r["pid"] == pid} == {want}, out
        assert one(parse_prom(prom.read_text()), "tcpaccept_accepts_total",
                   container=cgroups.ID_A, unit=LAYOUTS["docker-systemd"].unit) == 2
        log2 = tmp_path / "valgrind2.log"
        with CgroupTree() as tree:
            tree.make(f"docker/{cgroups.ID_A}")
            tree.make(f"docker/{cgroups.ID_A[:-1]}{'1' if cgroups.ID_A[-1] == '0' else '0'}")
            res = subprocess.run([*valgrind_wrapper(log2), VG_APP,
                                  f"--container={cgroups.ID_A[:3]}"], capture_output=True,
                                 timeout=180)
        check_valgrind_log(log2, res.returncode, 1)
        assert b"starts the IDs of more than one running container" in res.stderr, res.stderr

    @pytest.mark.parametrize("case", ["usage", "no-btf", "bad-btf", "output-refused",
                                      "stdout-full"])
    def test_valgrind_error_exits_free_everything(case, tmp_path):
        log = tmp_path / "valgrind.log"
        cmd = [*valgrind_wrapper(log), VG_APP]
        stdout = subprocess.PIPE
        if case == "usage":
            cmd += ["-P", "80,", "-P", "81"]
            want_rc = 64
        elif case == "bad-btf":
            cmd += ["--btf=/dev/zero"]
            want_rc = 1
        elif case == "output-refused":
            os.symlink("/dev/null", tmp_path / "link")
            cmd += ["-o", str(tmp_path / "link")]
            want_rc = 1
        elif case == "no-btf":
            cmd = ["unshare", "--mount", "sh", "-c",
                   'mount -t tmpfs none /sys/kernel/btf && exec "$@"', "sh", *cmd]
            want_rc = 1
        else:
            stdout = open("/dev/full", "wb")
            want_rc = 1
        res = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=180)
        if case == "stdout-full":
            stdout.close()
        check_valgrind_log(log, res.returncode, want_rc)
        err = res.stderr.decode()
        assert err.startswith("tcpaccept: ") and err.count("\n") == 1, err
