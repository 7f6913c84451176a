# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end with the real engines: --metrics checked by promtool, read
back through prometheus-node-exporter's textfile collector and through a
Prometheus server's query API; atomic writes; -c -q's histograms; -o with
logrotate. Every server listens on 127.0.0.1 only and is stopped here."""
import fcntl
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests.lib import ROOT, TCPACCEPT
from tests.lib.checks import (LOST_RE, WAIT_SLOTS, check_rows, check_wait_slots, check_wait_sum,
                              header, json_wait_slots, one, parse_json_lines, parse_prom,
                              parse_rows, prom_wait_slots, series, wait_bounds, wait_slot)
from tests.lib.host import STARTED, Tracer, WaitingPeer, die_with_pytest, free_port, peer

APP = "tcpaccept"
# tcppeer --hold: each accept waits 80 ms and a little, in the 65536-131071 us
# slot on a quiet machine. The tests take the slots and sums that tcppeer's
# bounds on each wait allow (a loaded machine waits longer).
HOLD_MS = 80
def own_port():
    """A port no other run of this file had: two runs on one port would add
    up in one series."""
    port = free_port()
    while port in USED_PORTS:
        port = free_port()
    USED_PORTS.add(port)
    return port


def own_peer(*args):
    return peer("--port", str(own_port()), *args)


USED_PORTS = set()


def whole_json_lines(text):
    """The JSON lines of a file or pipe still being written: its whole lines."""
    return parse_json_lines(text[:text.rfind("\n") + 1])


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} (waited {timeout}s)"
        time.sleep(0.2)


def exited(pid):
    """@pid has exited (its files closed): gone, or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def metrics_tracer(path, *args):
    return Tracer("-v", f"--metrics={path}", "-i", "1", *args, ready_on_stderr=True)


def check_hold_histogram(samples, port, accepts):
    """--metrics' histogram of the --hold peer's accepts: slots, count and
    sum (printed in seconds to the ns) that waits within tcppeer's bounds
    give."""
    unknown = int(one(samples, "tcpaccept_accept_wait_unknown_total", lport=port))
    check_wait_slots(prom_wait_slots(samples, lport=port), accepts, unknown, f"port {port}")
    assert one(samples, "tcpaccept_accept_wait_seconds_count", lport=port) == \
        len(accepts) - unknown
    total = one(samples, "tcpaccept_accept_wait_seconds_sum", lport=port)
    check_wait_sum(total * 1e9, accepts, 1, unknown, f"port {port}")


# --- promtool, and exact values in the file ----------------------------------

def test_metrics_file_exact_and_promtool_clean(tmp_path):
    path = tmp_path / "tcpaccept.prom"
    t = metrics_tracer(path)
    # Written once at start, before any accept.
    wait_until(lambda: "tcpaccept_info{" in read_file(path), 10, "no metrics file at start")
    slow, slow_acc = own_peer("--count", "12", "--hold", str(HOLD_MS), "--connect-interval", "100",
                          "--comm", "slow\\x1b\"q\\\\")
    fast, fast_acc = own_peer("--family", "6", "--count", "300", "--rst")
    mapped, _ = own_peer("--family", "mapped", "--count", "5")
    start = time.time()

    def settled():
        s = parse_prom(read_file(path))
        return s if series(s, "tcpaccept_accepts_total", lport=mapped["port"]) else None
    s = wait_until(settled, 10, "accepts not in the metrics file")
    out, err, rc = t.stop()
    assert rc == 0 and out == "", (rc, out, err)   # --metrics alone prints no rows
    final = read_file(path)
    res = subprocess.run(["promtool", "check", "metrics"], input=final, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res
    s = parse_prom(final)
    # The kernel cut the name to 15 bytes; the label shows it as -c does.
    assert one(s, "tcpaccept_accepts_total", lport=slow["port"]) == 12
    assert series(s, "tcpaccept_accepts_total", lport=slow["port"]) == {
        frozenset({("comm", 'slow\\x1b"q\\x5c'), ("ip", "4"), ("laddr", "127.0.0.1"),
                   ("lport", str(slow["port"])), ("proto", "tcp")}): 12}
    assert one(s, "tcpaccept_accepts_total", lport=fast["port"], ip=6, laddr="::1",
               comm="tcppeer-srv", proto="tcp") == 300
    assert one(s, "tcpaccept_accepts_total", lport=mapped["port"], ip=6,
               laddr="::ffff:127.0.0.1") == 5
    check_hold_histogram(s, slow["port"], slow_acc)
    assert one(s, "tcpaccept_accept_wait_seconds_count", lport=fast["port"]) + \
        one(s, "tcpaccept_accept_wait_unknown_total", lport=fast["port"]) == 300
    assert one(s, "tcpaccept_listen_backlog_max", lport=slow["port"]) > 0
    assert one(s, "tcpaccept_lost_events_total") == 0
    assert one(s, "tcpaccept_series_overflow_total", metric="tcpaccept_accepts_total") == 0
    assert one(s, "tcpaccept_max_series") == 4096
    [info] = [dict(lb) for (n, lb) in s if n == "tcpaccept_info"]
    assert info["way"] in ("fexit", "kprobe", "tracepoint") and info["version"], info
    assert abs(one(s, "tcpaccept_metrics_timestamp_seconds") - time.time()) < 5
    assert one(s, "tcpaccept_start_time_seconds") <= start
    assert len(slow_acc) == 12 and len(fast_acc) == 300


def test_metrics_series_cap_counts_what_it_drops(tmp_path):
    path = tmp_path / "tcpaccept.prom"
    t = metrics_tracer(path, "--metrics-max-series=1")
    a, _ = own_peer("--count", "3")
    b, _ = own_peer("--count", "4")
    out, err, rc = t.stop()
    assert rc == 0, err
    s = parse_prom(read_file(path))
    kept = series(s, "tcpaccept_accepts_total")
    assert len(kept) == 1, kept
    # The one series may be anyone's (other accepts on this host): ours
    # that did not fit are counted, never lost silently.
    ours_kept = sum(v for p in (a, b)
                    for v in series(s, "tcpaccept_accepts_total", lport=p["port"]).values())
    assert ours_kept in (0, 3, 4), kept
    assert one(s, "tcpaccept_series_overflow_total",
               metric="tcpaccept_accepts_total") >= 7 - ours_kept
    assert one(s, "tcpaccept_max_series") == 1


# Run as nobody: one listener per port on its own 127.1.0.x, a task name
# of its own for each accept: as many label sets as ports, for both metrics.
JUNK_SERIES = r"""
import socket, sys
for i, port in enumerate(map(int, sys.argv[1:])):
    with open("/proc/thread-self/comm", "w") as f:
        f.write(f"junk{i:03d}")
    addr = f"127.1.0.{i + 1}"
    with socket.create_server((addr, port)) as srv:
        with socket.create_connection((addr, port)) as cli:
            srv.accept()[0].close()
"""
MAX_SERIES = 16
JUNK = 24


def metrics_writes(path):
    """Each new write of the metrics file, parsed (by its timestamp)."""
    last = None

    def new_write():
        s = parse_prom(read_file(path))
        return s if s and one(s, "tcpaccept_metrics_timestamp_seconds") != last else None
    while True:
        s = wait_until(new_write, 30, "no new metrics write")
        last = one(s, "tcpaccept_metrics_timestamp_seconds")
        yield s


def test_junk_series_cannot_keep_a_real_listener_out(tmp_path):
    """Another user fills --metrics-max-series with junk label sets, then
    stops; a real service that starts later gets its series within a few
    writes: idle series give their place back while the metric turns
    accepts away (series.c), counted in tcpaccept_series_evicted_total."""
    path = tmp_path / "tcpaccept.prom"
    junk_ports = [free_port() for _ in range(JUNK)]
    real = free_port()
    t = metrics_tracer(path, f"--metrics-max-series={MAX_SERIES}",
                       "-P", ",".join(map(str, junk_ports + [real])))
    subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "/usr/bin/python3", "-c", JUNK_SERIES, *map(str, junk_ports)],
                   check=True, timeout=60)
    writes = metrics_writes(path)
    for s in writes:
        kept = series(s, "tcpaccept_accepts_total")
        refused = one(s, "tcpaccept_series_overflow_total", metric="tcpaccept_accepts_total")
        if len(kept) == MAX_SERIES and sum(kept.values()) + refused == JUNK:
            break
    assert all(dict(lb)["comm"].startswith("junk") for lb in kept), kept
    # The real service accepts once a write until it shows; the bound is
    # in writes (each one SERIES_IDLE_WRITES and the pressure count), not
    # in seconds.
    made = 0
    for waited, s in enumerate(writes):
        if series(s, "tcpaccept_accepts_total", comm="realsvc"):
            break
        assert waited < 3 + 4, f"no series for the real service after {waited} writes"
        peer("--port", str(real), "--count", "1", "--comm", "realsvc")
        made += 1
    out, err, rc = t.stop()
    assert rc == 0, err
    s = parse_prom(read_file(path))
    got = one(s, "tcpaccept_accepts_total", comm="realsvc", lport=real)
    assert 1 <= got <= made and series(s, "tcpaccept_accept_wait_seconds_count", lport=real)
    for metric in ("tcpaccept_accepts_total", "tcpaccept_accept_wait_seconds"):
        assert one(s, "tcpaccept_series_evicted_total", metric=metric) == MAX_SERIES, metric


def test_metrics_beside_json_rows(tmp_path):
    """--metrics with -j: every row on stdout, and the same accepts counted
    in the file."""
    path = tmp_path / "tcpaccept.prom"
    t = Tracer("-v", "-j", f"--metrics={path}", ready_on_stderr=True)
    ready, accepts = own_peer("--count", "9", "--comm", "beside")
    out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    rows = [o for o in parse_json_lines(out) if o["pid"] == ready["pid"]]
    assert sorted(o["rport"] for o in rows) == sorted(int(a["rport"]) for a in accepts)
    s = parse_prom(read_file(path))     # written at exit, without -i
    assert one(s, "tcpaccept_accepts_total", lport=ready["port"], comm="beside") == 9
    assert one(s, "tcpaccept_accept_wait_seconds_count", lport=ready["port"]) + \
        one(s, "tcpaccept_accept_wait_unknown_total", lport=ready["port"]) == 9


def test_metrics_path_that_cannot_be_written_fails_at_once(tmp_path):
    res = subprocess.run([TCPACCEPT, f"--metrics={tmp_path}/no/such/dir/m.prom"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stdout == "", res
    assert res.stderr == (f"tcpaccept: failed to write the metrics to '{tmp_path}/no/such/dir/"
                          "m.prom': No such file or directory\n"), res.stderr


def process_children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def test_temporary_files_a_killed_run_left_are_removed_at_start(tmp_path):
    """A tcpaccept SIGKILLed in the middle of a metrics write (held in
    fsync() by strace) leaves PATH.tmp.XXXXXX; the next start removes it,
    and only what is that: other names, another user's file and a file a
    live writer holds stay."""
    path = tmp_path / "tcpaccept.prom"
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                             "-e", "inject=fsync:delay_enter=60s", TCPACCEPT, f"--metrics={path}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_pytest)
    STARTED.append(proc)
    left = wait_until(lambda: [p for p in tmp_path.iterdir() if p.name.startswith(
        "tcpaccept.prom.tmp.")], 30, "no temporary file")
    [victim] = process_children(proc.pid)
    os.kill(victim, signal.SIGKILL)
    proc.kill()     # strace would sit out its delay
    proc.wait(30)
    # The victim holds its file's lock until it is gone, which under load
    # comes after strace's own end (seen once, under the sanitizers).
    wait_until(lambda: exited(victim), 30, "the killed tcpaccept gone")
    assert [p.name for p in tmp_path.iterdir()] == [left[0].name], "not the killed run's file"
    assert re.fullmatch(r"tcpaccept\.prom\.tmp\.[A-Za-z0-9]{6}", left[0].name), left
    keep = ["tcpaccept.prom.tmp.abc", "tcpaccept.prom.tmp.abcdefg", "other.prom.tmp.abcdef",
            "tcpaccept.prom.tmp.nobody", "tcpaccept.prom.tmp.locked"]
    for name in keep:
        (tmp_path / name).write_text("x")
    os.chown(tmp_path / "tcpaccept.prom.tmp.nobody", 65534, 65534)
    with open(tmp_path / "tcpaccept.prom.tmp.locked") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        res = subprocess.run([TCPACCEPT, f"--metrics={path}", "-d", "1"], capture_output=True,
                             timeout=30)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["tcpaccept.prom"])


def test_output_file_columns_reopened_on_sighup(tmp_path):
    """-o in columns: renamed, then SIGHUP: the new file starts with the
    header, and each row is in one file."""
    log = tmp_path / "rows.txt"
    t = Tracer("-v", "-o", str(log), ready_on_stderr=True)
    first, acc1 = own_peer("--count", "3")
    wait_until(lambda: read_file(log).count(f"\n{first['pid']} ") == 3, 10, "rows not written")
    os.rename(log, tmp_path / "rows.txt.1")
    t.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: log.exists(), 10, "not reopened")
    second, acc2 = own_peer("--count", "2")
    out, err, rc = t.stop()
    assert rc == 0 and out == "", (out, err)
    old, new = (tmp_path / "rows.txt.1").read_text(), log.read_text()
    assert old.startswith(header()) and new.startswith(header()), (old, new)
    check_rows(parse_rows(old), acc1, first["pid"])
    check_rows(parse_rows(new), acc2, second["pid"])
    assert not [r for r in parse_rows(new) if r["pid"] == first["pid"]]
    assert not [r for r in parse_rows(old) if r["pid"] == second["pid"]]


# --- node_exporter and Prometheus --------------------------------------------

def start_server(argv, ready_url, what):
    """Started for the module: stopped by the fixture, not after each test
    (as STARTED's are); PR_SET_PDEATHSIG stops it should pytest die."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=die_with_pytest)

    def up():
        assert proc.poll() is None, f"{what} exited: {proc.stderr.read().decode()}"
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_until(up, 60, f"{what} not ready at {ready_url}")
    return proc


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """tcpaccept --metrics into a textfile directory, node_exporter serving
    it, Prometheus scraping that every second; two ports' accepts traced."""
    d = tmp_path_factory.mktemp("stack")
    textdir = d / "textfile"
    textdir.mkdir()
    prom_file = textdir / "tcpaccept.prom"
    t = metrics_tracer(prom_file)
    STARTED.remove(t.proc)
    slow, slow_acc = own_peer("--count", "20", "--hold", str(HOLD_MS), "--connect-interval", "100")
    fast, _ = own_peer("--count", "57")
    # All of them: a write during the peer's run shows only some.
    wait_until(lambda: list(series(parse_prom(read_file(prom_file)), "tcpaccept_accepts_total",
                                   lport=fast["port"]).values()) == [57], 10,
               "accepts not in the metrics file")
    ne_port, prom_port = free_port(), free_port()
    ne = start_server(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ne_port}",
                       "--collector.disable-defaults", "--collector.textfile",
                       f"--collector.textfile.directory={textdir}"],
                      f"http://127.0.0.1:{ne_port}/metrics", "node_exporter")
    (d / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ne_port}']\n")
    prom = start_server(["prometheus", f"--config.file={d / 'prometheus.yml'}",
                         f"--storage.tsdb.path={d / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}"],
                        f"http://127.0.0.1:{prom_port}/-/ready", "prometheus")
    try:
        yield {"ne": f"http://127.0.0.1:{ne_port}", "prom": f"http://127.0.0.1:{prom_port}",
               "slow": slow, "slow_accepts": slow_acc, "fast": fast, "file": prom_file}
    finally:
        stop_server(prom)
        stop_server(ne)
        out, err, rc = t.stop()
    assert rc == 0, err


def test_node_exporter_serves_exact_counts(stack):
    s = parse_prom(http_get(stack["ne"] + "/metrics"))
    slow, fast = stack["slow"]["port"], stack["fast"]["port"]
    assert one(s, "tcpaccept_accepts_total", lport=slow, comm="tcppeer-srv", ip=4,
               laddr="127.0.0.1", proto="tcp") == 20
    assert one(s, "tcpaccept_accepts_total", lport=fast) == 57
    check_hold_histogram(s, slow, stack["slow_accepts"])
    assert one(s, "tcpaccept_accept_wait_seconds_count", lport=fast) + \
        one(s, "tcpaccept_accept_wait_unknown_total", lport=fast) == 57
    # node_exporter read the file without complaint.
    assert one(s, "node_textfile_scrape_error") == 0
    assert series(s, "node_textfile_mtime_seconds", file=str(stack["file"])) or \
        series(s, "node_textfile_mtime_seconds", file="tcpaccept.prom")


def prom_query(stack, query):
    url = stack["prom"] + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    res = json.loads(http_get(url))
    assert res["status"] == "success", res
    return res["data"]["result"]


def test_prometheus_answers_counts_and_quantile(stack):
    slow, fast = stack["slow"]["port"], stack["fast"]["port"]

    def answered(query):
        return lambda: prom_query(stack, query) or None
    [r] = wait_until(answered(f'tcpaccept_accepts_total{{lport="{slow}"}}'), 60,
                     "Prometheus has no tcpaccept_accepts_total")
    assert r["metric"]["comm"] == "tcppeer-srv" and r["metric"]["proto"] == "tcp", r
    assert r["metric"]["job"] == "node", r
    assert float(r["value"][1]) == 20
    [r] = prom_query(stack, f'sum(tcpaccept_accepts_total{{lport="{fast}"}})')
    assert float(r["value"][1]) == 57
    [r] = prom_query(stack, 'histogram_quantile(0.99, sum by (le) '
                     f'(tcpaccept_accept_wait_seconds_bucket{{lport="{slow}"}}))')
    q = float(r["value"][1])
    # 0.99 of 20 is the longest wait's slot, which tcppeer's bounds on the
    # longest wait confine; Prometheus interpolates within the slot.
    accepts = stack["slow_accepts"]
    assert len(accepts) == 20
    first, last = (wait_slot(max(wait_bounds(a)[k] for a in accepts)) for k in (0, 1))
    assert (1 << first if first else 0) / 1e6 < q <= (2 << last) / 1e6, (q, first, last)


# --- atomic writes -------------------------------------------------------------

def test_reader_never_sees_a_partial_file(tmp_path):
    path = tmp_path / "tcpaccept.prom"
    t = metrics_tracer(path)
    wait_until(lambda: read_file(path), 10, "no metrics file")
    ports = []

    reads, contents = 0, set()

    def traffic():
        # Ten listeners or more make a file of several pages; the flood
        # goes on until the reader has seen it rewritten five times.
        while len(contents) < 5 or len(ports) < 10:
            port = own_port()
            peer("--port", str(port), "--count", "300", "--rst")
            ports.append(port)
    th = threading.Thread(target=traffic, daemon=True)
    th.start()
    try:
        while th.is_alive() or reads < 3000:
            text = read_file(path)
            reads += 1
            # Whole: the first metric's HELP, every family's TYPE, the last line.
            assert text.startswith("# HELP tcpaccept_accepts_total "), text[:200]
            assert text.count("\n# TYPE ") == 18, text
            assert re.search(r"\ntcpaccept_metrics_timestamp_seconds \d+\.\d{3}\n\Z", text), text[-200:]
            if reads % 100 == 0:
                parse_prom(text)
            contents.add(hash(text))
    finally:
        th.join()
    out, err, rc = t.stop()
    assert rc == 0, err
    assert reads >= 3000 and len(contents) >= 5, (reads, len(contents))
    final = read_file(path)
    assert len(final) > 16384, len(final)
    for port in ports:
        assert one(parse_prom(final), "tcpaccept_accepts_total", lport=port) == 300
    # No temporary file is left behind.
    assert os.listdir(tmp_path) == ["tcpaccept.prom"], os.listdir(tmp_path)


# --- -c -q: the histogram in the terminal --------------------------------------

def hist_rows(text, port):
    """The usecs rows of the histogram of 127.0.0.1 port @port."""
    block = text.split(f"WAIT for 127.0.0.1 port {port}: ")[1].split("\n\n")[0]
    return [tuple(int(x) for x in m.groups())
            for m in re.finditer(r"^ +(\d+) -> (\d+) +: (\d+) +\|[* ]{40}\|$", block, re.M)], block


def test_count_queue_prints_a_histogram_per_port():
    slow_port = free_port()
    t = Tracer("-v", "-c", "-q", "-P", str(slow_port), ready_on_stderr=True)
    tj = Tracer("-v", "-c", "-q", "-j", "-P", str(slow_port), ready_on_stderr=True)
    ready, accepts = peer("--port", str(slow_port), "--count", "6", "--hold", str(HOLD_MS),
                          "--connect-interval", "100")
    out, err, rc = t.stop()
    jout, jerr, jrc = tj.stop()
    assert rc == 0 and jrc == 0, (err, jerr)
    rows, block = hist_rows(out, slow_port)
    known, unknown = map(int, re.match(r"(\d+) accepts, (\d+) with an unknown wait\n",
                                       block).groups())
    # Every slot from 0 to the last one that holds an accept.
    assert [r[:2] for r in rows] == [(1 << i if i else 0, (2 << i) - 1) for i in range(len(rows))]
    assert not rows or rows[-1][2], rows
    counts = [c for _, _, c in rows] + [0] * (WAIT_SLOTS - len(rows))
    assert sum(counts) == known, block
    check_wait_slots(counts, accepts, unknown, "-c -q")
    assert out.index("ACCEPTS") < out.index("WAIT for"), out
    objs = parse_json_lines(jout)
    [h] = [o for o in objs if "buckets" in o]
    assert h["lport"] == slow_port and h["laddr"] == "127.0.0.1" and h["ip"] == 4, h
    check_wait_slots(json_wait_slots(h), accepts, h["unknown"], "-c -q -j")
    check_wait_sum(h["sum_us"] * 1000, accepts, 1, h["unknown"], "-c -q -j")
    [row] = [o for o in objs if "accepts" in o]
    assert row["pid"] == ready["pid"] and row["accepts"] == 6, row


def test_count_queue_interval_histograms_hold_each_interval(tmp_path):
    port = free_port()
    # --metrics at the same -i: its file's writes count the intervals.
    prom = tmp_path / "m.prom"
    t = Tracer("-v", "-c", "-q", "-j", "-i", "1", "-P", str(port), f"--metrics={prom}",
               ready_on_stderr=True)

    def counted(out):
        return sum(h["count"] for h in whole_json_lines(out.decode()) if "buckets" in h)
    peer("--port", str(port), "--count", "3", "--hold", str(HOLD_MS), "--connect-interval", "100")
    t.wait_for(lambda o, e: counted(o) == 3, 10, "the first 3 not in the histograms")
    printed = t.out().count(b'"buckets"')
    # Two writes of the file: at least one whole interval with nothing.
    writes = metrics_writes(prom)
    next(writes)
    next(writes)
    peer("--port", str(port), "--count", "2", "--hold", str(HOLD_MS), "--connect-interval", "100")
    t.wait_for(lambda o, e: counted(o) == 5, 10, "the next 2 not in the histograms")
    out, err, rc = t.stop()
    assert rc == 0, err
    hists = [o for o in parse_json_lines(out) if "buckets" in o]
    # Each interval's own accepts: the first 3 (in one histogram, or two
    # if they straddled an interval), then the 2; no empty histogram for
    # the intervals between.
    counts = [h["count"] for h in hists]
    assert sum(counts[:printed]) == 3 and sum(counts[printed:]) == 2, counts
    assert all(counts), counts


# --- -o and logrotate ------------------------------------------------------------

def test_output_file_survives_logrotate(tmp_path):
    log = tmp_path / "accepts.jsonl"
    t = Tracer("-v", "-j", "-o", str(log), ready_on_stderr=True)
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 10\n  missingok\n  nocompress\n  postrotate\n"
                    f"    kill -HUP {t.pid}\n  endscript\n}}\n")
    # Four streams of 75 accepts, one after the other; each is rotated
    # away once its first row is in the file (while it streams on), so
    # every stream's rows start in a file of their own.
    port, accepts, pids = own_port(), [], set()

    def mine(pid):
        return [o for f in sorted(tmp_path.glob("accepts.jsonl*"))
                for o in whole_json_lines(f.read_text()) if o["pid"] == pid]
    for _ in range(4):
        stream = WaitingPeer("--port", str(port), "--count", "75", "--connect-interval", "10")
        th = threading.Thread(target=lambda: accepts.extend(stream.go()))
        th.start()
        wait_until(lambda: any(o["pid"] == stream.pid for o in whole_json_lines(
            read_file(log))), 30, "no row of the stream")
        res = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        th.join()
        pids.add(stream.pid)
    wait_until(lambda: sum(len(mine(p)) for p in pids) >= 300, 10, "rows missing")
    out, err, rc = t.stop()
    assert rc == 0 and out == "" and not LOST_RE.search(err), (out, err)
    files = sorted(tmp_path.glob("accepts.jsonl*"))
    seen, nonempty = [], 0
    for f in files:
        text = f.read_text()
        assert text == "" or text.endswith("\n"), f
        ours = [o for o in parse_json_lines(text) if o["pid"] in pids]
        nonempty += bool(ours)
        seen += [(o["raddr"], o["rport"]) for o in ours]
    want = [(a["raddr"], int(a["rport"])) for a in accepts]
    assert len(want) == 300 and sorted(seen) == sorted(want), (len(seen), len(set(seen)))
    assert nonempty >= 4, files


# --- the systemd unit --------------------------------------------------------------

# What the unit's sandbox does that matters to tcpaccept, done by hand
# (no systemd runs here): /sys, tracefs and /proc/sys read-only
# (ProtectKernelTunables), uid 0 with only the unit's capabilities in every
# set, no_new_privs.
SANDBOX = """set -e
mount -o bind,remount,ro /sys
if mountpoint -q /sys/kernel/tracing; then mount -o bind,remount,ro /sys/kernel/tracing; fi
mount --bind /proc/sys /proc/sys
mount -o bind,remount,ro /proc/sys
if touch /sys/kernel/tracing/x 2>/dev/null; then echo "tracefs writable" >&2; exit 1; fi
caps=$1; shift
exec setpriv --reuid=0 --inh-caps=-all,$caps --ambient-caps=-all,$caps \
    --bounding-set=-all,$caps --no-new-privs "$@"
"""


def test_systemd_unit_verifies_and_runs_with_its_capabilities(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["make", "-C", ROOT, "--no-print-directory", f"prefix={prefix}", "install"],
                   check=True, capture_output=True)
    unit = prefix / "lib/systemd/system/tcpaccept.service"
    env = {**os.environ, "MANPATH": str(prefix / "share/man")}
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res
    res = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                         capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for tcpaccept.service: (\d+\.\d+)", res.stdout)
    assert m and float(m.group(1)) <= 1.2, res.stdout[-3000:]
    text = unit.read_text()
    [caps] = re.findall(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    assert caps.split() == ["CAP_BPF", "CAP_PERFMON"], caps
    assert re.search(r"^AmbientCapabilities=CAP_BPF CAP_PERFMON$", text, re.M)
    assert re.search(r"^ReadWritePaths=/var/lib/prometheus/node-exporter$", text, re.M)
    # The binary, with only those capabilities, behind read-only /sys.
    setpriv_caps = ",".join("+" + c[4:].lower() for c in caps.split())
    script = tmp_path / "sandbox.sh"
    script.write_text(SANDBOX)
    path = tmp_path / "tcpaccept.prom"
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", str(script),
                             setpriv_caps, str(prefix / "sbin/tcpaccept"), "-v",
                             f"--metrics={path}", "-i", "1"],
                            stdout=subprocess.PIPE, stderr=open(tmp_path / "stderr", "wb"),
                            preexec_fn=die_with_pytest)
    STARTED.append(proc)
    wait_until(lambda: "tcpaccept_info{" in read_file(path), 30, "no metrics file")
    ready, _ = own_peer("--count", "7")
    wait_until(lambda: series(parse_prom(read_file(path)), "tcpaccept_accepts_total",
                              lport=ready["port"]), 10, "no accepts in the metrics file")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    err = (tmp_path / "stderr").read_text()
    assert proc.returncode == 0 and out == b"", err
    assert one(parse_prom(read_file(path)), "tcpaccept_accepts_total", lport=ready["port"]) == 7
    assert "dropped every capability but CAP_BPF" in err, err


def syscall_set(names):
    """The system calls @names (calls and @groups) stand for, groups
    expanded by systemd-analyze."""
    calls = set()
    for name in names:
        if not name.startswith("@"):
            calls.add(name)
            continue
        res = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                             text=True, timeout=60, check=True)
        body = [l.strip() for l in res.stdout.splitlines()[1:]]
        calls |= syscall_set([l for l in body if l and not l.startswith("#")])
    return calls


def test_systemd_unit_allows_every_system_call_tcpaccept_makes(tmp_path):
    """The unit's SystemCallFilter= against what tcpaccept --metrics calls
    here, from start to exit (strace -f -c)."""
    with open(os.path.join(ROOT, "systemd", "tcpaccept.service.in")) as f:
        filters = re.findall(r"^SystemCallFilter=(.*)$", f.read(), re.M)
    allowed, denied = set(), set()
    for line in filters:
        if line.startswith("~"):
            denied |= syscall_set(line[1:].split())
        else:
            allowed |= syscall_set(line.split())
    summary = tmp_path / "strace"
    # The release binary, the one the unit runs (not a sanitizer build).
    proc = subprocess.Popen(["strace", "-f", "-c", "-o", str(summary), os.path.join(ROOT, APP),
                             f"--metrics={tmp_path / 'm.prom'}", "-i", "1", "-d", "3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_pytest)
    STARTED.append(proc)
    # Written once attached.
    wait_until(lambda: "tcpaccept_info{" in read_file(tmp_path / "m.prom"), 30, "not attached")
    own_peer("--count", "3")
    assert proc.wait(60) == 0
    made = {line.split()[-1] for line in summary.read_text().splitlines()[2:]
            if line.strip() and not line.startswith("-") and line.split()[-1] != "total"}
    assert {"bpf", "perf_event_open", "rename", "fsync", "capset"} <= made, made
    assert made <= allowed - denied, sorted(made - (allowed - denied))
