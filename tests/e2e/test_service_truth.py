# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""The ground truth of issue 22's tests (containers, cgroup layouts, PID
namespaces), checked against the kernel's own word before any tracer is
compared with it: what each helper in tests/lib says of its servers must be
what /proc/PID/cgroup, NSpid and /proc/PID/ns/* say."""
import os
import re

import pytest

from tests.lib.cgroups import (LAYOUTS, CgroupTree, cgroup2_mount, handle_id, in_cgroup,
                               ns_inode, nspids, proc_cgroup)
from tests.lib.containers import Container, busybox_image
from tests.lib.host import WaitingPeer
from tests.lib.pidns import IN_NEW_PIDNS, enter_pidns, inside_pid


@pytest.fixture(scope="module")
def image():
    return busybox_image()


def cgroup_dir(path):
    """The directory of cgroup @path ("0::" line) below the cgroup2 mount."""
    point, root = cgroup2_mount()
    return os.path.join(point, os.path.relpath(path, root))


def test_kernfs_id_is_the_inode_number():
    """A cgroup v2 directory's inode number is its cgroup ID (what
    bpf_get_current_cgroup_id() returns): name_to_handle_at() gives the
    kernfs node's 64-bit ID as the handle."""
    point, _ = cgroup2_mount()
    with CgroupTree() as tree:
        for d in (point, tree.top, tree.make("a.slice/b.service")):
            assert handle_id(d) == os.stat(d).st_ino, d


def test_container_truth(image):
    with Container(image, "--count", "2") as c:
        c.start()
        path = proc_cgroup(c.host_pid)
        # podman's layouts: libpod-ID.scope[/container] (systemd), libpod-ID (cgroupfs)
        assert re.search(rf"/libpod-{c.id}(\.scope(/container)?)?$", path), (c.id, path)
        assert path == c.truth["cgroup"], "no cgroup namespace: the same path inside"
        assert handle_id(cgroup_dir(path)) == os.stat(cgroup_dir(path)).st_ino
        pids = nspids(c.host_pid)
        assert len(pids) == len(nspids(os.getpid())) + 1, pids
        assert pids[-1] == c.truth["nspid"], (pids, c.truth)
        for ns in ("pid", "mnt", "net"):
            assert ns_inode(c.host_pid, ns) == c.truth[f"{ns}ns"], ns
            assert ns_inode(c.host_pid, ns) != ns_inode(os.getpid(), ns), ns
        accepts = c.go()
    assert c.ready["pid"] == c.truth["nspid"]
    assert len(accepts) == 2
    assert {int(a["pid"]) for a in accepts} == {c.truth["nspid"]}
    assert all(a["raddr"] == a["laddr"] == "127.0.0.1" for a in accepts), accepts


def test_two_containers_apart(image):
    """What --container's test stands on: two containers' servers, each in
    its own cgroup and network namespace, none in the host's."""
    with Container(image, "--count", "1") as a, Container(image, "--count", "1") as b:
        a.start()
        b.start()
        assert a.id != b.id
        assert proc_cgroup(a.host_pid) != proc_cgroup(b.host_pid)
        assert a.id in proc_cgroup(a.host_pid) and b.id in proc_cgroup(b.host_pid)
        assert len({ns_inode(p, "net") for p in (a.host_pid, b.host_pid, os.getpid())}) == 3
        assert len(a.go()) == 1 and len(b.go()) == 1


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_cgroup_layout_truth(name):
    layout = LAYOUTS[name]
    with CgroupTree() as tree:
        d = tree.make(layout.path)
        server = WaitingPeer("--count", "1", prefix=in_cgroup(d))
        assert proc_cgroup(server.pid) == tree.cgroup_path(d)
        assert proc_cgroup(server.pid).endswith("/" + layout.path)
        assert handle_id(d) == os.stat(d).st_ino
        accepts = server.go()
    assert len(accepts) == 1 and int(accepts[0]["pid"]) == server.pid


def test_pidns_truth():
    first = WaitingPeer("--count", "1", prefix=IN_NEW_PIDNS)
    host = inside_pid(first.proc.pid)
    # NSpid ends with the PID here (the parent namespace), then the one inside.
    assert first.pid == 1 and nspids(host)[-2:] == [host, 1], nspids(host)
    assert ns_inode(host, "pid") != ns_inode(os.getpid(), "pid")
    # A second server in the same namespace, entered from outside.
    second = WaitingPeer("--count", "1", prefix=enter_pidns(host))
    host2 = inside_pid(second.proc.pid)
    assert nspids(host2)[-2:] == [host2, second.pid] and second.pid != 1
    assert ns_inode(host2, "pid") == ns_inode(host, "pid")
    # The second first: when PID 1 of a namespace exits, the kernel kills the rest.
    assert [int(a["pid"]) for a in second.go()] == [second.pid]
    assert [int(a["pid"]) for a in first.go()] == [1]
