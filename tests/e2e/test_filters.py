# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: the filters the kernel side applies (-p, -P,
-4/-6, -u, -C) let through exactly the accepts they name."""
import os
import subprocess
import threading

import pytest

from tests.lib import TCPACCEPT
from tests.lib.checks import LOST_RE, check_rows, parse_count_table, parse_rows
from tests.lib.host import Tracer, WaitingPeer, free_port, no_bpf_calls, peer


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


def test_port_filter_repeated_options_merge():
    """-P A -P B traces both ports (not only the last -P's), as one -P A,B."""
    a_port, b_port, untraced_port = free_port(), free_port(), free_port()
    t = Tracer("-P", str(a_port), "--port", str(b_port))
    ready_a, accepts_a = peer("--port", str(a_port), "--count", "2")
    ready_b, accepts_b = peer("--port", str(b_port), "--count", "3")
    ready_c, _ = peer("--port", str(untraced_port), "--count", "1")
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows([r for r in rows if r["lport"] == a_port], accepts_a, ready_a["pid"])
    check_rows([r for r in rows if r["lport"] == b_port], accepts_b, ready_b["pid"])
    assert {r["lport"] for r in rows} == {a_port, b_port}, out


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
    # What follows (where cgroup v2 is mounted): test_not_cgroup2_says_where_cgroup2_is.
    assert res.stderr.decode().startswith("tcpaccept: '/tmp' is not a cgroup v2 directory; ")


# --- -4, -6 and --client-family: dual-stack listeners ---------------------------

def test_client_family_and_dual_stack_listeners():
    # A dual-stack listener (tcppeer --family mapped: bound to :: without
    # V6ONLY) gets its IPv4 clients as IPv6 sockets, ::ffff:127.0.0.1.
    ports = {fam: free_port() for fam in ("4", "6", "mapped")}
    plist = ",".join(str(p) for p in ports.values())
    tracers = {
        "-4": Tracer("-4", "-P", plist),
        "--client-family=4": Tracer("--client-family=4", "-P", plist),
        "--client-family=6": Tracer("--client-family=6", "-P", plist),
        "-6 --client-family=4": Tracer("-6", "--client-family=4", "-P", plist),
    }
    results = {fam: peer("--family", fam, "--port", str(port), "--count", "2")
               for fam, port in ports.items()}
    assert {a["raddr"] for a in results["mapped"][1]} == {"::ffff:127.0.0.1"}
    kept = {"-4": {"4"}, "--client-family=4": {"4", "mapped"}, "--client-family=6": {"6"},
            "-6 --client-family=4": {"mapped"}}
    for name, t in tracers.items():
        out, err, rc = t.stop()
        assert rc == 0 and not LOST_RE.search(err), (name, err)
        rows = parse_rows(out)
        for fam, (ready, accepts) in results.items():
            if fam in kept[name]:
                check_rows(rows, accepts, ready["pid"])
            else:
                assert not [r for r in rows if r["pid"] == ready["pid"]], (name, fam, out)
        assert len(rows) == 2 * len(kept[name]), (name, out)


def test_client_family_counts_in_the_kernel():
    mapped_port, v6_port = free_port(), free_port()
    t = Tracer("-c", "--client-family=4", "-P", f"{mapped_port},{v6_port}", "-v",
               ready_on_stderr=True)
    mapped, _ = peer("--family", "mapped", "--port", str(mapped_port), "--count", "3",
                     "--comm", "dual")
    peer("--family", "6", "--port", str(v6_port), "--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    assert parse_count_table(out.splitlines()) == [
        (mapped["pid"], "dual", 6, "::ffff:127.0.0.1", mapped_port, 3)], out




# --- -p of a process that is not there -------------------------------------------

def test_pid_that_is_no_process_fails_before_loading(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    res, calls = no_bpf_calls(tmp_path, "-p", str(gone.pid), "-d", "1")
    assert res.returncode == 1, res
    assert res.stderr.decode() == f"tcpaccept: no process with PID {gone.pid}\n"
    assert res.stdout == b"" and calls == [], calls


def test_pid_of_a_thread_is_refused(tmp_path):
    started, done = threading.Event(), threading.Event()
    tid = []

    def thread():
        tid.append(threading.get_native_id())
        started.set()
        done.wait(30)

    th = threading.Thread(target=thread)
    th.start()
    try:
        started.wait(10)
        res, calls = no_bpf_calls(tmp_path, "-p", str(tid[0]), "-d", "1")
    finally:
        done.set()
        th.join()
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: {tid[0]} is a thread of process {os.getpid()}: "
                                   "-p takes a process ID\n")
    assert calls == [], calls


# --- -P ranges and lists -----------------------------------------------------------

def test_port_ranges_and_lists():
    # Three free ports a < b < c: -P a-b keeps a and b and drops c; the list
    # also holds 200 other ports, more than the 64 there used to be room for.
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    a, b, c = sorted(ports)
    others = ",".join(str(p) for p in range(1100, 1300))
    t = Tracer("-P", f"{others},{a}-{b},1-3")
    (ra, acc_a), (rb, acc_b), (rc_, _) = (peer("--port", str(p), "--count", "2") for p in (a, b, c))
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, acc_a, ra["pid"])
    check_rows(rows, acc_b, rb["pid"])
    assert not [r for r in rows if r["pid"] == rc_["pid"]], out
    assert {r["lport"] for r in rows} <= {a, b} | set(range(1100, 1300)) | set(range(a, b + 1))


def test_bad_port_ranges_refused(tmp_path):
    for arg, why in (("90-80", "range '90-80' ends before it starts"),
                     ("0", "'0' is not a port 1-65535 or a range FIRST-LAST"),
                     ("80-65536", "'80-65536' is not a port 1-65535 or a range FIRST-LAST"),
                     ("80,", "empty item")):
        res, calls = no_bpf_calls(tmp_path, "-P", arg)
        assert res.returncode == 64, (arg, res)
        assert res.stderr.decode() == f"tcpaccept: invalid port list '{arg}': {why}\n"
        assert calls == [], calls


# --- -C on a directory that is not cgroup v2 ----------------------------------------

def cgroup2_mounts():
    """The cgroup2 mount points /proc/self/mountinfo lists."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            if tail.split()[0] == "cgroup2":
                points.append(fields.split()[4])
    return points


def not_cgroup2_dir():
    """A cgroup v1 hierarchy where the host has one (a hybrid host, as this
    one), else a plain directory."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            if tail.split()[0] == "cgroup":
                return fields.split()[4]
    return "/tmp"


def test_not_cgroup2_says_where_cgroup2_is(tmp_path):
    where = cgroup2_mounts()
    assert where, "this test wants a host with cgroup v2 mounted somewhere"
    path = not_cgroup2_dir()
    res, calls = no_bpf_calls(tmp_path, "-C", path)
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: '{path}' is not a cgroup v2 directory; cgroup v2 "
                                   f"is mounted at {', '.join(where)} on this host\n")
    assert calls == [], calls


def test_not_cgroup2_says_none_is_mounted():
    # A private mount namespace without any cgroup2 mount.
    path = not_cgroup2_dir()
    umounts = " && ".join(f"umount -l {p}" for p in cgroup2_mounts()) or "true"
    res = subprocess.run(["unshare", "--mount", "sh", "-c",
                          f"{umounts} && ! grep -q ' - cgroup2 ' /proc/self/mountinfo && "
                          f'exec {TCPACCEPT} -C "$0"', path],
                         capture_output=True, timeout=10)
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: '{path}' is not a cgroup v2 directory; no cgroup v2 "
                                   "is mounted on this host (mount -t cgroup2 none DIR)\n")


# --- --netns ------------------------------------------------------------------------

@pytest.fixture
def named_netns():
    """A network namespace of ip netns's (/run/netns/NAME), lo up; its name."""
    name = f"tcpaccept-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=True)


def test_netns_filter(named_netns):
    """--netns by a /run/netns file, a /proc/PID/ns/net file and an inode
    number: exactly the accepts made in that namespace."""
    in_named = ("ip", "netns", "exec", named_netns)
    other = WaitingPeer("--count", "2", prefix=("unshare", "--net", "sh", "-c",
                                                'ip link set lo up && exec "$@"', "sh"))
    host_ino = os.stat("/proc/self/ns/net").st_ino
    tracers = {"named": Tracer("--netns", f"/run/netns/{named_netns}"),
               "proc": Tracer(f"--netns=/proc/{other.pid}/ns/net"),
               "inode": Tracer(f"--netns={host_ino}")}
    named, named_accepts = peer("--count", "3", prefix=in_named)
    other_accepts = other.go()
    host, host_accepts = peer("--count", "1")
    want = {"named": (named["pid"], named_accepts), "proc": (other.pid, other_accepts),
            "inode": (host["pid"], host_accepts)}
    for name, t in tracers.items():
        out, err, rc = t.stop()
        assert rc == 0, (name, err)
        rows = parse_rows(out)
        pid, accepts = want[name]
        check_rows(rows, accepts, pid)
        for other_name, (other_pid, _) in want.items():
            if other_name != name:
                assert not [r for r in rows if r["pid"] == other_pid], (name, other_name, out)


@pytest.mark.parametrize("arg,status,message", [
    ("/proc/self/ns/pid", 1, "'/proc/self/ns/pid' names another kind of namespace, not a network one"),
    ("/tmp", 1, "'/tmp' is not a namespace file: --netns takes one as /proc/PID/ns/net or "
                "/run/netns/NAME, or an inode number"),
    ("/run/netns/none-such", 1, "failed to open network namespace '/run/netns/none-such': "
                                "No such file or directory"),
    ("0", 64, "invalid network namespace inode '0': expected 1-4294967295"),
    ("", 64, "invalid network namespace '': expected an inode number or a file"),
])
def test_netns_refused(tmp_path, arg, status, message):
    res, calls = no_bpf_calls(tmp_path, f"--netns={arg}")
    assert (res.returncode, res.stderr.decode()) == (status, f"tcpaccept: {message}\n")
    assert calls == [], calls
