# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: which service accepted (issue 22). -j's
cgroup, unit, container, nspid, pidns and mntns for real servers in real
cgroup v2 directories named as systemd, Docker, podman, containerd and
CRI-O name them, and in a real podman container; each checked against what
the kernel says (/proc/PID/cgroup, NSpid, /proc/PID/ns/*) or what the
server saw from inside."""
import os
import re
import signal
import subprocess

import pytest

from tests.lib import TCPACCEPT, cgroups
from tests.lib.cgroups import LAYOUTS, CgroupTree, in_cgroup, ns_inode, nspids, proc_cgroup
from tests.lib.checks import (LOST_RE, check_json, check_rows, one, parse_json_lines, parse_prom,
                              parse_rows)
from tests.lib.containers import Container, busybox_image
from tests.lib.host import Tracer, WaitingPeer, free_port, run_tcpaccept
from tests.lib.pidns import IN_NEW_PIDNS, enter_pidns, inside_pid
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


# --- a tracer in a PID namespace (bcc #1329) -----------------------------------------

def descendant_pids(pid, levels, nspid):
    """NSpid of the descendant of @pid whose PID namespace is @levels deep
    and whose PID there is @nspid."""
    todo = [pid]
    while todo:
        p = todo.pop()
        pids = nspids(p)
        if len(pids) == levels and pids[-1] == nspid:
            return pids
        with open(f"/proc/{p}/task/{p}/children") as f:
            todo += [int(c) for c in f.read().split()]
    raise AssertionError(f"no descendant of {pid} is PID {nspid} {levels} levels down")


def stop_in_pidns(t, inner=None):
    """unshare --fork and nsenter --pid wait for their child and do not
    pass SIGINT on: the signal goes to tcpaccept, inside."""
    os.kill(inner or inside_pid(t.proc.pid), signal.SIGINT)
    return t.stop(sig=None)


def test_tracer_in_a_pid_namespace(tmp_path):
    """tcpaccept under unshare -p -f --mount-proc prints PIDs as ps there
    shows them, those of a namespace nested in its own too, takes -p in
    them, and leaves out the processes it cannot see, saying how many."""
    prom = tmp_path / "t.prom"
    t = json_tracer(f"--metrics={prom}", wrapper=IN_NEW_PIDNS)
    inner = inside_pid(t.proc.pid)
    assert nspids(inner)[-1] == 1, "tcpaccept is PID 1 of its namespace"
    inside = WaitingPeer("--count", "2", prefix=enter_pidns(inner))
    nested = WaitingPeer("--count", "1", prefix=(*enter_pidns(inner), *IN_NEW_PIDNS))
    nested_pids = descendant_pids(nested.proc.pid, len(nspids(inner)) + 1, nested.pid)
    picked = Tracer("-p", str(inside.pid), "-j", "-v", ready_on_stderr=True,
                    wrapper=enter_pidns(inner))
    outside = WaitingPeer("--count", "3")
    results = [(p, p.go()) for p in (inside, nested, outside)]
    objs = parse_json_lines(stop_in_pidns(picked)[0])
    out, err, rc = stop_in_pidns(t, inner)
    assert rc == 0, err
    rows = parse_json_lines(out)
    (_, in_accepts), (_, nested_accepts), (_, outside_accepts) = results
    # The server entered from outside: its PID there, as its getpid() said.
    check_json(rows, in_accepts, inside.pid, identity={"nspid": inside.pid})
    # The nested one: its PID in tcpaccept's namespace; its own is nspid.
    assert nested.pid == 1
    check_json(rows, [{**a, "pid": nested_pids[-2], "tid": nested_pids[-2]}
                      for a in nested_accepts], nested_pids[-2], identity={"nspid": 1})
    assert {o["pid"] for o in rows} == {inside.pid, nested_pids[-2]}, rows
    assert len(rows) == 3 and not [o for o in rows if o["pid"] == outside.pid]
    m = re.search(r"^tcpaccept: (\d+) accept\(\) calls? of processes outside this PID "
                  r"namespace not traced", err, re.M)
    assert m and int(m.group(1)) >= len(outside_accepts), err
    assert "tcpaccept: in PID namespace " in err
    # Written at exit before the line was said; other users' accepts on
    # a shared host count too.
    assert len(outside_accepts) <= one(parse_prom(prom.read_text()),
                                       "tcpaccept_outside_pid_namespace_total") <= int(m.group(1))
    # -p with a PID of that namespace: that server's rows only.
    check_json(objs, in_accepts, inside.pid)
    assert {o["pid"] for o in objs} == {inside.pid}, objs


def test_tracer_in_a_pid_namespace_with_the_hosts_proc():
    """unshare -p -f without --mount-proc: /proc, and so ps, still shows
    the host's PIDs; tcpaccept shows and takes -p in those too."""
    server = WaitingPeer("--count", "2")
    t = json_tracer("-p", str(server.pid), wrapper=("unshare", "--pid", "--fork", "--"))
    inner = inside_pid(t.proc.pid)
    accepts = server.go()
    out, err, rc = stop_in_pidns(t, inner)
    assert rc == 0, err
    check_json(parse_json_lines(out), accepts, server.pid, identity={"nspid": server.pid})
    assert "PID namespace" not in err, err


# --- --container -------------------------------------------------------------------

def rows_of(t):
    out, err, rc = t.stop()
    assert rc == 0 and not LOST_RE.search(err), err
    return parse_rows(out), err


def test_container_filter_podman(image):
    """Two containers and a host process accept on the same port: each
    --container tracer shows exactly its own container's accepts, by a
    prefix of its ID, for a container running before tcpaccept started and
    for one started after (its cgroup is matched as it is made)."""
    port = free_port()
    with Container(image, "--count", "2", "--port", str(port)) as a, \
            Container(image, "--count", "3", "--port", str(port)) as b:
        a.start()
        host = WaitingPeer("--count", "1", "--port", str(port))
        tracers = {"a": Tracer(f"--container={a.id[:12]}"), "b": Tracer(f"--container={b.id[:5]}")}
        b.start()
        accepts = {"a": a.go(), "b": b.go(), "host": host.go()}
        pids = {"a": a.host_pid, "b": b.host_pid, "host": host.pid}
        for name, t in tracers.items():
            rows, err = rows_of(t)
            want = accepts[name]
            check_rows(rows, [{**x, "pid": pids[name], "tid": pids[name]} for x in want],
                       pids[name])
            assert len(rows) == len(want) and {r["lport"] for r in rows} == {port}, (name, rows)
            if name == "b":
                assert f"no running container's ID starts with '{b.id[:5]}'" in err, err
    assert len(accepts["host"]) == 1


# Which layouts a prefix of ID_A, and of ID_B, matches: the container's own
# directory, its sub-cgroups, and containers nested in it.
MATCH = {cgroups.ID_A[:7]: {n for n, l in LAYOUTS.items() if l.container},
         cgroups.ID_B[:5]: {"docker-in-docker", "kind"}}


@pytest.mark.parametrize("made", ["before", "after"])
def test_container_filter_layouts(made):
    """Real directories of every layout, a real server in each: made before
    tcpaccept starts (found by its walk) or after (by cgroup_mkdir)."""
    tracers = {}
    with CgroupTree() as tree:
        dirs = {name: tree.make(l.path) for name, l in LAYOUTS.items() if made == "before"}
        tracers = {p: Tracer(f"--container={p}") for p in MATCH}
        servers = {}
        for name, layout in sorted(LAYOUTS.items()):
            d = dirs.get(name) or tree.make(layout.path)
            server = WaitingPeer("--count", "1", prefix=in_cgroup(d))
            servers[name] = (server.pid, server.go())
        for prefix, t in tracers.items():
            rows, _ = rows_of(t)
            shown = set()
            for name, (pid, accepts) in servers.items():
                if [r for r in rows if r["pid"] == pid]:
                    check_rows(rows, accepts, pid)
                    shown.add(name)
            assert shown == MATCH[prefix], (prefix, shown ^ MATCH[prefix])


def test_container_prefix_of_two_is_refused():
    with CgroupTree() as tree:
        tree.make(f"docker/{cgroups.ID_A}")
        other = cgroups.ID_A[:-1] + ("0" if cgroups.ID_A[-1] != "0" else "1")
        tree.make(f"docker/{other}")
        res = run_tcpaccept(f"--container={cgroups.ID_A[:10]}", "--container=abcdef")
    assert res.returncode == 1, res
    assert res.stderr.decode() == (
        f"tcpaccept: '{cgroups.ID_A[:10]}' starts the IDs of more than one running container "
        f"({cgroups.ID_A[:12]}, {other[:12]}): give more of its digits\n") or \
        res.stderr.decode() == (
        f"tcpaccept: '{cgroups.ID_A[:10]}' starts the IDs of more than one running container "
        f"({other[:12]}, {cgroups.ID_A[:12]}): give more of its digits\n"), res.stderr


def test_container_without_cgroup_v2():
    umounts = " && ".join(f"umount -l {p}" for p in cgroup2_mounts())
    res = subprocess.run(["unshare", "--mount", "sh", "-c",
                          f'{umounts} && exec "$0" --container=4f3c', TCPACCEPT],
                         capture_output=True, timeout=10)
    assert (res.returncode, res.stderr.decode()) == \
        (1, "tcpaccept: --container needs cgroup v2, which is not mounted here\n")


# --- --metrics-labels --------------------------------------------------------------

def test_metrics_container_and_unit_labels(tmp_path, image):
    """--metrics-labels=container,unit: the accept counters labelled with
    the container's full ID and the unit (empty where none), exact counts,
    promtool clean; the default labels are unchanged without it."""
    path, plain = tmp_path / "labels.prom", tmp_path / "plain.prom"
    t = Tracer("-v", f"--metrics={path}", "--metrics-labels=container,unit", ready_on_stderr=True)
    t_plain = Tracer("-v", f"--metrics={plain}", ready_on_stderr=True)
    with CgroupTree() as tree, Container(image, "--count", "2") as c:
        servers = {}
        for name, count in (("docker-systemd", 3), ("systemd-service", 2), ("none", 1)):
            d = tree.make(LAYOUTS[name].path)
            server = WaitingPeer("--count", str(count), prefix=in_cgroup(d))
            servers[name] = (server.port, len(server.go()))
        c.start()
        c.go()
        for tracer in (t, t_plain):
            out, err, rc = tracer.stop()
            assert rc == 0, err
    text = path.read_text()
    res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res
    s = parse_prom(text)
    for name, (port, n) in servers.items():
        layout = LAYOUTS[name]
        assert one(s, "tcpaccept_accepts_total", lport=port, comm="tcppeer-srv",
                   container=layout.container or "", unit=layout.unit or "") == n, name
    assert one(s, "tcpaccept_accepts_total", container=c.id, unit="") == 2
    p = parse_prom(plain.read_text())
    for port, n in servers.values():
        labels = next(dict(lb) for (name, lb), v in p.items()
                      if name == "tcpaccept_accepts_total" and dict(lb)["lport"] == str(port))
        assert set(labels) == {"comm", "ip", "laddr", "lport", "proto"}, labels
        assert one(p, "tcpaccept_accepts_total", lport=port) == n
