# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Real cgroup v2 directories named as systemd, Kubernetes, Docker and podman
name them, with real servers moved into them (issue 22's ground truth), and
what the kernel says of a process: its cgroup, its PIDs, its namespaces.

    with CgroupTree() as tree:
        d = tree.make(LAYOUTS["docker-systemd"].path)
        server = WaitingPeer("--count", "1", prefix=in_cgroup(d))

The tree lives under the cgroup2 mount in a directory named as a slice
(tcpaccept-test-PID-N.slice): systemd's reading skips slices, so a layout
path under it names the same unit and container as it would at the top,
and nothing the host's own manager made is touched."""
import ctypes
import itertools
import os
import struct
from collections import namedtuple

# Fixed IDs: the tests know what each directory must be parsed as.
ID_A = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2"
ID_B = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
POD = "8a1c3b5e-2f4d-4c6b-9e8a-7d6c5b4a3f21"
POD_ = POD.replace("-", "_")    # as the systemd driver escapes it

# path: below the tree's slice; unit, container: what a row must say.
Layout = namedtuple("Layout", "path unit container")

LAYOUTS = {
    "systemd-service": Layout("system.slice/nginx.service", "nginx.service", None),
    "systemd-user-service": Layout(
        "user.slice/user-1000.slice/user@1000.service/app.slice/app.service", "app.service", None),
    "docker-systemd": Layout(f"system.slice/docker-{ID_A}.scope", f"docker-{ID_A}.scope", ID_A),
    "docker-cgroupfs": Layout(f"docker/{ID_A}", None, ID_A),
    "docker-in-docker": Layout(f"docker/{ID_A}/docker/{ID_B}", None, ID_B),
    "podman-systemd": Layout(f"machine.slice/libpod-{ID_A}.scope", f"libpod-{ID_A}.scope", ID_A),
    "podman-systemd-container": Layout(f"machine.slice/libpod-{ID_A}.scope/container",
                                       f"libpod-{ID_A}.scope", ID_A),
    "podman-cgroupfs": Layout(f"libpod_parent/libpod-{ID_A}", None, ID_A),
    "podman-conmon": Layout(f"machine.slice/libpod-conmon-{ID_A}.scope",
                            f"libpod-conmon-{ID_A}.scope", None),
    "containerd-burstable": Layout(
        f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD_}.slice/"
        f"cri-containerd-{ID_A}.scope", f"cri-containerd-{ID_A}.scope", ID_A),
    "crio-besteffort": Layout(
        f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_}.slice/"
        f"crio-{ID_A}.scope", f"crio-{ID_A}.scope", ID_A),
    "crio-conmon": Layout(
        f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_}.slice/"
        f"crio-conmon-{ID_A}.scope", f"crio-conmon-{ID_A}.scope", None),
    "kubepods-cgroupfs": Layout(f"kubepods/burstable/pod{POD}/{ID_A}", None, ID_A),
    "kind": Layout(
        f"system.slice/docker-{ID_A}.scope/kubelet.slice/kubelet-kubepods.slice/"
        f"kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{POD_}.slice/"
        f"cri-containerd-{ID_B}.scope", f"docker-{ID_A}.scope", ID_B),
    "none": Layout("tcpaccept-plain/workers", None, None),
}


# --- what the kernel says -------------------------------------------------------

def cgroup2_mount():
    """(mount point, ROOT) of the cgroup2 mount that shows the most of the
    hierarchy (the shortest ROOT), as cgroup.c picks it; None if there is
    none (a host without cgroup v2)."""
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            if tail.split()[0] != "cgroup2":
                continue
            root, point = (unescape(x) for x in head.split()[3:5])
            if best is None or len(root) < len(best[1]):
                best = (point, root)
    return best


def unescape(s):
    """mountinfo's \\ooo escapes."""
    return s.encode().decode("unicode_escape") if "\\" in s else s


def proc_cgroup(pid):
    """The cgroup v2 path of @pid: its /proc/PID/cgroup "0::" line."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    raise AssertionError(f"/proc/{pid}/cgroup has no 0:: line")


def nspids(pid):
    """@pid's NSpid: its PID in each PID namespace, outermost first."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"/proc/{pid}/status has no NSpid line")


def ns_inode(pid, ns):
    """The inode number of @pid's namespace @ns (net, pid, mnt, ...)."""
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


_LIBC = ctypes.CDLL(None, use_errno=True)


def handle_id(path):
    """The 8-byte file handle name_to_handle_at() gives a cgroup2 directory
    (FILEID_KERNFS: the kernfs node's 64-bit ID), as an integer."""
    buf = ctypes.create_string_buffer(8 + 128)
    struct.pack_into("I", buf, 0, 128)
    mount_id = ctypes.c_int()
    if _LIBC.name_to_handle_at(-100, os.fsencode(path), buf, ctypes.byref(mount_id), 0):
        raise OSError(ctypes.get_errno(), f"name_to_handle_at {path}")
    size, _type = struct.unpack_from("Ii", buf, 0)
    assert size == 8, f"{path}: a {size}-byte handle, not a kernfs ID"
    return struct.unpack_from("Q", buf, 8)[0]


# --- making trees -----------------------------------------------------------------

_serial = itertools.count()


class CgroupTree:
    """A tree of cgroup v2 directories under the cgroup2 mount; removed on
    exit, after every process in it has been moved out or has exited."""

    def __init__(self):
        found = cgroup2_mount()
        assert found, "no cgroup v2 hierarchy is mounted"
        self.mount, self.mount_root = found
        self.name = f"tcpaccept-test-{os.getpid()}-{next(_serial)}.slice"
        self.top = os.path.join(self.mount, self.name)
        self.dirs = []

    def __enter__(self):
        os.mkdir(self.top)
        self.dirs.append(self.top)
        return self

    def make(self, rel):
        """Makes @rel (and its parents) below the top; its absolute path."""
        path = self.top
        for part in rel.split("/"):
            path = os.path.join(path, part)
            if not os.path.isdir(path):
                os.mkdir(path)
                self.dirs.append(path)
        return path

    def cgroup_path(self, path):
        """What /proc/PID/cgroup says of a task in directory @path."""
        rel = os.path.relpath(path, self.mount)
        return os.path.normpath(os.path.join(self.mount_root, rel))

    def __exit__(self, *exc):
        for d in reversed(self.dirs):
            evacuate(d, self.mount)
            os.rmdir(d)
        return False


def evacuate(path, to):
    """Moves what is left in cgroup @path (a process a failed test left)
    into @to, so the directory can go."""
    with open(os.path.join(path, "cgroup.procs")) as f:
        pids = f.read().split()
    for pid in pids:
        try:
            with open(os.path.join(to, "cgroup.procs"), "w") as f:
                f.write(pid)
        except ProcessLookupError:
            pass


def in_cgroup(path):
    """A command prefix that moves the process into cgroup @path, then
    execs the rest: the server is there before it makes its socket (a
    socket keeps the cgroup it was made in)."""
    return ("sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path)
