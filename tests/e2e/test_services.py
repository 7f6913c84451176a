# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: which service accepted (issue 22). -j's
cgroup, unit, container, nspid, pidns and mntns for real servers in real
cgroup v2 directories named as systemd, Docker, podman, containerd and
CRI-O name them, and in a real podman container; each checked against what
the kernel says (/proc/PID/cgroup, NSpid, /proc/PID/ns/*) or what the
server saw from inside."""
import os

import pytest

from tests.lib.cgroups import LAYOUTS, CgroupTree, in_cgroup, ns_inode, nspids, proc_cgroup
from tests.lib.checks import LOST_RE, check_json, check_rows, parse_json_lines, parse_rows
from tests.lib.containers import Container, busybox_image
from tests.lib.host import Tracer, WaitingPeer
from tests.e2e.test_filters import cgroup2_mounts


@pytest.fixture(scope="module")
def image():
    return busybox_image()


def json_tracer(*args, wrapper=()):
    return Tracer("-j", "-v", *args, wrapper=wrapper, ready_on_stderr=True)


def stop_json(t):
    out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    return parse_json_lines(out)


def truth_of(pid):
    """What the kernel says of host process @pid: the row's identity."""
    return {"cgroup": proc_cgroup(pid), "nspid": nspids(pid)[-1],
            "pidns": ns_inode(pid, "pid"), "mntns": ns_inode(pid, "mnt"),
            "netns": ns_inode(pid, "net")}


def test_json_names_a_host_process():
    t = json_tracer()
    server = WaitingPeer("--count", "2")
    truth = truth_of(server.pid)
    accepts = server.go()
    mine = check_json(stop_json(t), accepts, server.pid, identity=truth)
    assert len(mine) == 2 and truth["nspid"] == server.pid


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_json_unit_and_container_of_each_layout(name):
    """The directory is made after tcpaccept started (its path comes from
    the cgroup_mkdir tracepoint), the server moved in before it listens."""
    layout = LAYOUTS[name]
    t = json_tracer()
    with CgroupTree() as tree:
        d = tree.make(layout.path)
        server = WaitingPeer("--count", "1", prefix=in_cgroup(d))
        truth = truth_of(server.pid)
        assert truth["cgroup"] == tree.cgroup_path(d)
        accepts = server.go()
        objs = stop_json(t)
    mine = check_json(objs, accepts, server.pid,
                      identity={**truth, "unit": layout.unit, "container": layout.container})
    print(f"\n{name}: {layout.path}\n  {mine[0]}")


def test_json_cgroup_made_before_start():
    """A directory that exists when tcpaccept starts: found by its walk of
    the tree."""
    layout = LAYOUTS["kind"]
    with CgroupTree() as tree:
        d = tree.make(layout.path)
        t = json_tracer()
        server = WaitingPeer("--count", "1", prefix=in_cgroup(d))
        truth = truth_of(server.pid)
        accepts = server.go()
        objs = stop_json(t)
    check_json(objs, accepts, server.pid,
               identity={**truth, "unit": layout.unit, "container": layout.container})


def test_json_cgroup_gone_before_the_row_is_read():
    """A short-lived cgroup (a container that ran one request): made,
    accepted in, removed, all before tcpaccept reads the row; its path is
    the one the kernel sent when it made it."""
    t = json_tracer()
    with CgroupTree() as tree:
        d = tree.make("system.slice/oneshot.service")
        server = WaitingPeer("--count", "1", prefix=in_cgroup(d))
        truth = truth_of(server.pid)
        accepts = server.go()
    objs = stop_json(t)
    check_json(objs, accepts, server.pid, identity={**truth, "unit": "oneshot.service",
                                                    "container": None})


def test_json_podman_container(image):
    """A real container (podman, runc, cgroupfs: /libpod_parent/libpod-ID):
    the container's full ID, the server's PID inside (its init), and the
    container's own cgroup and namespaces, as the server saw them from
    inside."""
    t = json_tracer()
    with Container(image, "--count", "2") as c:
        c.start()
        accepts = c.go()
    objs = stop_json(t)
    truth = c.truth
    assert truth["cgroup"] == f"/libpod_parent/libpod-{c.id}", truth
    mine = check_json(objs, [{**a, "pid": c.host_pid, "tid": c.host_pid} for a in accepts],
                      c.host_pid,
                      identity={"cgroup": truth["cgroup"], "unit": None, "container": c.id,
                                "nspid": truth["nspid"], "pidns": truth["pidns"],
                                "mntns": truth["mntns"], "netns": truth["netns"]})
    assert len(mine) == 2 and truth["nspid"] != c.host_pid
    print(f"\npodman {c.id}:\n  {mine[0]}")


def test_json_without_cgroup_v2():
    """A host (here: a mount namespace) with no cgroup v2 mounted: cgroup,
    unit and container are null, the namespaces are still there."""
    umounts = " && ".join(f"umount -l {p}" for p in cgroup2_mounts())
    assert umounts, "this test wants a host with cgroup v2 mounted"
    t = json_tracer(wrapper=("unshare", "--mount", "sh", "-c",
                             f"{umounts} && ! grep -q ' - cgroup2 ' /proc/self/mountinfo && "
                             'exec "$0" "$@"'))
    server = WaitingPeer("--count", "1")
    truth = truth_of(server.pid)
    accepts = server.go()
    out, err, rc = t.stop()
    assert rc == 0, err
    assert "tcpaccept: no cgroup v2 is mounted: cgroup, unit and container are null\n" in err
    check_json(parse_json_lines(out), accepts, server.pid,
               identity={"cgroup": None, "unit": None, "container": None,
                         "nspid": truth["nspid"], "pidns": truth["pidns"]})
    assert os.stat("/proc/self/ns/mnt").st_ino == truth["mntns"]


# --- -S: the SERVICE column ------------------------------------------------------

# A container's short ID, else the unit, else the path.
SERVICE_CASES = {"docker-systemd": LAYOUTS["docker-systemd"].container[:12],
                 "systemd-user-service": "app.service", "none": None}


def test_service_column():
    t = Tracer("-S")
    with CgroupTree() as tree:
        results = {}
        for name in SERVICE_CASES:
            d = tree.make(LAYOUTS[name].path)
            server = WaitingPeer("--count", "2", prefix=in_cgroup(d))
            results[name] = (server, server.go(), tree.cgroup_path(d))
        out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    rows = parse_rows(out, service=True)
    for name, want in SERVICE_CASES.items():
        server, accepts, path = results[name]
        check_rows(rows, accepts, server.pid)
        mine = {r["service"] for r in rows if r["pid"] == server.pid}
        assert mine == {want or path}, (name, mine)
        print(f"\n{name}: {[r['line'] for r in rows if r['pid'] == server.pid][0]}")


def test_count_per_service():
    """-c -S counts per cgroup too: the table's SERVICE column and -c -j's
    cgroup, unit and container keys."""
    tracers = {"table": Tracer("-c", "-S", "-v", ready_on_stderr=True),
               "json": Tracer("-c", "-S", "-j", "-v", ready_on_stderr=True)}
    with CgroupTree() as tree:
        servers = {}
        for name, count in (("podman-systemd-container", 3), ("crio-besteffort", 2)):
            d = tree.make(LAYOUTS[name].path)
            server = WaitingPeer("--count", str(count), "--comm", "same-name", prefix=in_cgroup(d))
            servers[name] = (server, len(server.go()), tree.cgroup_path(d))
        outs = {k: t.stop() for k, t in tracers.items()}
    out, err, rc = outs["table"]
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "PID     COMM         IP LADDR            LPORT ACCEPTS SERVICE", out
    rows = {int(l.split()[0]): l.split()[1:] for l in lines[1:]}
    for name, (server, n, path) in servers.items():
        assert rows[server.pid] == ["same-name", "4", "127.0.0.1", str(server.port), str(n),
                                    LAYOUTS[name].container[:12]], (name, out)
    out, err, rc = outs["json"]
    assert rc == 0, err
    objs = {o["pid"]: o for o in parse_json_lines(out)}
    for name, (server, n, path) in servers.items():
        o = objs[server.pid]
        assert (o["cgroup"], o["unit"], o["container"], o["accepts"]) == \
            (path, LAYOUTS[name].unit, LAYOUTS[name].container, n), (name, o)
