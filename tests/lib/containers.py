# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Real containers for the tests, from Debian packages only: podman with
runc, and an image made here from busybox-static and the static test peer
(no registry).

    image = busybox_image()            # once per session
    c = Container(image, "--count", "2")   # created: its ID is known, no cgroup yet
    c.start()                          # the server is up (READY) and waits
    accepts = c.go()                   # its clients connect; the ACCEPT lines
    c.truth                            # what the server saw from inside

The server runs as the container's init (sh execs tcppeer), in its own PID,
mount and network namespaces (--network none: lo only). Before it listens
it prints a TRUTH line of what it sees from inside: its PID there, the
inodes of its PID, mount and network namespaces and its cgroup."""
import os
import shutil
import subprocess
import tempfile

from tests.lib import PEER
from tests.lib.checks import parse_peer
from tests.lib.host import STARTED, die_with_pytest

IMAGE = "localhost/tcpaccept-test-busybox:1"
BUSYBOX = "/bin/busybox"    # busybox-static: runs with no libc in the image
# runc: crun refuses hybrid cgroup hosts. Root here lacks CAP_SYS_RESOURCE,
# so podman's default rlimits (above the hard limits) cannot be set.
RUN_OPTS = ("--runtime", "runc", "--network", "none",
            "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1000:1000")
TRUTH = ('echo TRUTH nspid=$$ pidns=$(stat -L -c %i /proc/self/ns/pid) '
         'mntns=$(stat -L -c %i /proc/self/ns/mnt) netns=$(stat -L -c %i /proc/self/ns/net) '
         'cgroup=$(sed -n "s/^0:://p" /proc/self/cgroup)')


def podman(*args, timeout=120, check=True):
    res = subprocess.run(["podman", *args], capture_output=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"podman {args}: {res.stderr.decode()}"
    return res.stdout.decode().strip()


def busybox_image(name=IMAGE):
    """Imports an image of busybox (and its applets) and tcppeer as @name;
    returns @name. Made anew each time: the peer may have been rebuilt."""
    for tool in ("podman", "runc"):
        assert shutil.which(tool), f"{tool} is not installed (scripts/install-deps.sh test)"
    assert os.access(BUSYBOX, os.X_OK), f"{BUSYBOX} is missing (busybox-static)"
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
            os.makedirs(os.path.join(root, d))
        shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
        shutil.copy(PEER, os.path.join(root, "bin", "tcppeer"))
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, check=True)
        for applet in applets.stdout.decode().split():
            if applet != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", applet))
        tar = os.path.join(tmp, "root.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        podman("import", "--quiet", tar, name)
    return name


class Container:
    """A container whose init is tcppeer --wait (args as tcppeer's); created
    at once (its ID known, no cgroup yet), running after start()."""

    def __init__(self, image, *peer_args):
        script = f'{TRUTH}; exec tcppeer --wait "$@"'
        self.id = podman("create", *RUN_OPTS, "--interactive", image,
                         "/bin/sh", "-c", script, "sh", *peer_args)
        assert len(self.id) == 64, self.id
        self.proc = None
        self.truth = None
        self.ready = None

    def start(self, timeout=60):
        """Starts it and waits for READY; sets host_pid, truth, ready."""
        self.proc = subprocess.Popen(["podman", "start", "--attach", "--interactive", self.id],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=die_with_pytest)
        STARTED.append(self.proc)
        lines = []
        while True:
            line = self.proc.stdout.readline().decode()
            assert line, f"container {self.id[:12]} ended before READY: {lines} " \
                         f"{self.proc.stderr.read().decode()}"
            lines.append(line)
            if line.startswith("TRUTH "):
                self.truth = dict(kv.split("=", 1) for kv in line.split()[1:])
                self.truth = {k: v if k == "cgroup" else int(v) for k, v in self.truth.items()}
            elif line.startswith("READY "):
                self._ready_line = line
                break
        assert self.truth, f"no TRUTH line: {lines}"
        self.host_pid = int(podman("inspect", "--format", "{{.State.Pid}}", self.id))
        return self

    def go(self, timeout=120):
        """Lets the clients connect; waits for the server; its ACCEPT lines."""
        out, err = self.proc.communicate(b"go\n", timeout=timeout)
        assert self.proc.returncode == 0, f"container {self.id[:12]}: {err.decode()}"
        ready, accepts, _ = parse_peer(self._ready_line + out.decode())
        self.ready = ready
        return accepts

    def remove(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        podman("rm", "--force", self.id, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
