# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: the optional columns (-t, -T, -U, -w, -q),
each value checked."""
import re
import subprocess
import time

from tests.lib.checks import check_rows, check_wait_ms, header, parse_rows
from tests.lib.host import Tracer, free_port, peer, traced


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


def test_uid_column_shows_root():
    rows, ready, accepts, _ = traced(["-U"], "--count", "2", uid=True)
    check_rows(rows, accepts, ready["pid"])
    assert {r["uid"] for r in rows if r["pid"] == ready["pid"]} == {0}


def test_wide_columns():
    rows, ready, accepts, _ = traced(["-w", "-U", "-q"], "--family", "6", "--count", "2",
                                     wide=True, uid=True, queue=True)
    check_rows(rows, accepts, ready["pid"])
    def starts(line):
        return [m.start() for m in re.finditer(r"\S+", line)]

    head = header(uid=True, queue=True, wide=True)
    for r in rows:
        # Columns stay aligned: each value starts under its heading.
        assert starts(r["line"]) == starts(head), (head, r["line"])


def test_queue_wait_and_backlog():
    # Three clients connect (--rst: all of them before the first accept);
    # the server sleeps 300 ms before each accept: the k-th accept waited
    # k * 300 ms and a little (within tcppeer's bounds), and leaves 3 - k in
    # the queue.
    with open("/proc/sys/net/core/somaxconn") as f:
        backlog_max = min(4096, int(f.read()))
    rows, ready, accepts, _ = traced(["-q"], "--count", "3", "--rst", "--delay-accept", "300",
                                     queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    assert [r["bl"] for r in mine] == [f"{n}/{backlog_max}" for n in (2, 1, 0)], mine
    for k, r in enumerate(mine, 1):
        assert float(r["wait"]) >= k * 300, (k, r)
        check_wait_ms(r["wait"], accepts, r["rport"])


def test_queue_backlog_drains_one_per_accept():
    rows, ready, accepts, _ = traced(["-q"], "--count", "6", "--delay-accept", "50",
                                     "--rst", queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    lens = [int(r["bl"].split("/")[0]) for r in mine]
    assert lens == [5, 4, 3, 2, 1, 0], lens


def test_queue_backlog_grows_while_server_sleeps():
    # Clients arrive every 40 ms, the server takes one every 150 ms: the
    # queue it leaves behind after each accept builds up.
    rows, ready, accepts, _ = traced(["-q"], "--count", "8", "--connect-interval", "40",
                                     "--delay-accept", "150", queue=True)
    check_rows(rows, accepts, ready["pid"])
    mine = [r for r in rows if r["pid"] == ready["pid"]]
    lens = [int(r["bl"].split("/")[0]) for r in mine]
    # The clients are done after ~280 ms, the server after ~1200 ms: the
    # queue grows to its peak first.
    peak = lens.index(max(lens))
    assert lens[:peak + 1] == sorted(lens[:peak + 1]) and max(lens) >= 3, lens
    waits = [float(r["wait"]) for r in mine]
    assert waits[:peak + 1] == sorted(waits[:peak + 1]) and waits[peak] > 150, waits


# --- no line ends in a blank -------------------------------------------------------

COLUMN_LAYOUTS = [[], ["-t", "-T", "-U"], ["--print-proto"], ["-w"], ["-q"], ["-q", "-w"]]
TABLE_LAYOUTS = [["-c"], ["-c", "--print-proto", "-w"], ["-c", "-q"], ["-c", "-i", "1"]]


def test_no_line_ends_in_a_blank_and_grep_port_dollar_works():
    port = free_port(below=10000)   # LPORT shorter than its column
    tracers = [Tracer(*opts, "-P", str(port)) for opts in COLUMN_LAYOUTS]
    tables = [Tracer(*opts, "-P", str(port), "-v", ready_on_stderr=True) for opts in TABLE_LAYOUTS]
    ready, accepts = peer("--port", str(port), "--count", "3")
    ready6, accepts6 = peer("--port", str(port), "--count", "2", "--family", "6")
    time.sleep(1.2)     # one -i 1 table at least
    for opts, t in zip(COLUMN_LAYOUTS + TABLE_LAYOUTS, tracers + tables):
        out, err, rc = t.stop()
        assert rc == 0, (opts, err)
        assert out.count("\n") >= 2, (opts, out)
        for line in out.splitlines():
            assert line == line.rstrip(), (opts, line)
        if "-c" in opts:
            continue
        # The shell user's way: grep ' PORT$' finds every row of the port.
        res = subprocess.run(["grep", "-c", f" {port}$"], input=out.encode(),
                             capture_output=True, timeout=10)
        want = 0 if "-q" in opts else 5     # with -q, WAIT(ms) comes last
        assert int(res.stdout) == want, (opts, out)
        kw = {"wallclock": "-T" in opts, "timestamp": "-t" in opts, "uid": "-U" in opts,
              "queue": "-q" in opts, "wide": "-w" in opts, "proto": "--print-proto" in opts}
        rows = parse_rows(out, **kw)
        check_rows(rows, accepts, ready["pid"])
        check_rows(rows, accepts6, ready6["pid"])
