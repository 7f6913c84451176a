# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: the filters the kernel side applies (-p, -P,
-4/-6, -u, -C) let through exactly the accepts they name."""
import os
import subprocess

import pytest

from tests.lib import TCPACCEPT
from tests.lib.checks import check_rows, parse_rows
from tests.lib.host import Tracer, WaitingPeer, free_port, peer


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


def test_uid_column_and_filter():
    t = Tracer("-U", "-u", "65534")
    nobody, nobody_accepts = peer("--count", "3", "--uid", "65534")
    root, _ = peer("--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out, uid=True)
    check_rows(rows, nobody_accepts, nobody["pid"])
    assert {r["uid"] for r in rows} == {65534}
    assert not [r for r in rows if r["pid"] == root["pid"]], "-u let UID 0 through"


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    raise AssertionError("no cgroup v2 hierarchy is mounted")


@pytest.fixture
def cgroup():
    path = os.path.join(cgroup2_root(), f"tcpaccept-test-{os.getpid()}")
    os.mkdir(path)
    os.mkdir(os.path.join(path, "below"))
    yield path
    for d in (os.path.join(path, "below"), path):
        os.rmdir(d)


def peer_in_cgroup(cgroup_dir, *args):
    script = f'echo $$ > {cgroup_dir}/cgroup.procs && exec "$@"'
    return peer(*args, prefix=("sh", "-c", script, "sh"))


def test_cgroup_filter(cgroup):
    t = Tracer("-C", cgroup)
    inside, inside_accepts = peer_in_cgroup(cgroup, "--count", "2", "--comm", "in-cg")
    below, below_accepts = peer_in_cgroup(os.path.join(cgroup, "below"), "--count", "2")
    outside, _ = peer("--count", "2", "--comm", "out-cg")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, inside_accepts, inside["pid"])
    check_rows(rows, below_accepts, below["pid"])
    assert len(rows) == 4, out


def test_cgroup_must_be_cgroup2():
    res = subprocess.run([TCPACCEPT, "-C", "/tmp"], capture_output=True, timeout=10)
    assert res.returncode == 1
    # What follows (where cgroup v2 is mounted): tests/e2e/test_first_minutes.py.
    assert res.stderr.decode().startswith("tcpaccept: '/tmp' is not a cgroup v2 directory; ")
