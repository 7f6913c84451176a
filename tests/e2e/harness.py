# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""What the host end-to-end tests share: running the real tcpaccept and the
test peer, and checking what BPF objects a tracer left behind."""
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

from tcpaccept_testlib import LOST_RE, parse_peer, parse_rows

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# TCPACCEPT=path runs the tests against another build (e.g. make SANITIZE=1).
TCPACCEPT = os.environ.get("TCPACCEPT") or os.path.join(ROOT, "tcpaccept")
PEER = os.path.join(ROOT, ".output", "tcppeer")


class Tracer:
    """A running ./tcpaccept, attached once the constructor returns."""

    def __init__(self, *args, stdout=subprocess.PIPE, ready_on_stderr=False, cmd=None):
        """@ready_on_stderr: the output has no header (-j, -c): pass -v
        and wait for its "way in" line, printed once attached instead."""
        self.args = args
        # stderr goes to a file: -v's libbpf output would fill a pipe
        # nobody reads until stop(), and block the tracer.
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen((cmd or [TCPACCEPT]) + list(args), stdout=stdout,
                                     stderr=self.errfile)
        self.seen = b""     # what was read before stop()
        if ready_on_stderr:
            self.wait_stderr("tcpaccept: way in: ", 20)
        elif stdout == subprocess.PIPE:
            self.read_line(20)

    def wait_stderr(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"tcpaccept {self.args} exited: {self.stderr()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"tcpaccept {self.args}: no {text!r} in {timeout}s")
            time.sleep(0.05)

    def read_line(self, timeout):
        """Reads on until one more line has arrived; returns it."""
        f = self.proc.stdout
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([f], [], [], max(left, 0))
            if not ready:
                self.proc.kill()
                raise AssertionError(f"tcpaccept {self.args} printed no header in {timeout}s: "
                                     f"{self.stderr()}")
            chunk = os.read(f.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"tcpaccept {self.args} exited before its header: "
                                     f"{self.stderr()}")
            buf += chunk
        self.seen += buf
        return buf

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read().decode(errors="replace")

    def stop(self, sig=signal.SIGINT):
        """Stops the tracer; returns (stdout, stderr, exit status)."""
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=20)
        return (self.seen + (out or b"")).decode(errors="replace"), self.stderr(), self.proc.returncode


def peer(*args, prefix=()):
    """Runs tcppeer to completion; returns (ready, accepts)."""
    res = subprocess.run([*prefix, PEER, *args], capture_output=True, timeout=120)
    assert res.returncode == 0, f"tcppeer {args} failed: {res.stderr.decode()}"
    ready, accepts, _ = parse_peer(res.stdout.decode())
    return ready, accepts


class WaitingPeer:
    """A tcppeer started with --wait: its PID is known before it connects."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([PEER, "--wait", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("READY "), f"tcppeer: {line!r}"
        self.ready_line = line
        self.pid = int(line.split("pid=")[1].split()[0])
        self.port = int(line.split("port=")[1].split()[0])

    def go(self):
        out, err = self.proc.communicate(b"go\n", timeout=120)
        assert self.proc.returncode == 0, f"tcppeer failed: {err.decode()}"
        ready, accepts, _ = parse_peer(self.ready_line + out.decode())
        return accepts


def traced(tracer_args, *peer_args, **columns):
    """Traces one tcppeer run; returns (rows, ready, accepts, stderr)."""
    t = Tracer(*tracer_args)
    ready, accepts = peer(*peer_args)
    out, err, rc = t.stop()
    assert rc == 0, f"tcpaccept exited {rc}: {err}"
    assert not LOST_RE.search(err), err
    return parse_rows(out, **columns), ready, accepts, err


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bpf_ids(pid):
    """IDs of the BPF programs and links process @pid holds open."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("prog_id", "link_id"):
                        ids.add((key, int(value)))
        except OSError:
            pass
    return ids


def loaded_bpf_ids():
    """IDs of every BPF program and link in the kernel now."""
    ids = set()
    for kind in ("prog", "link"):
        res = subprocess.run(["bpftool", "-j", kind, "list"], capture_output=True, check=True)
        ids |= {(f"{kind}_id", obj["id"]) for obj in json.loads(res.stdout or b"[]")}
    return ids


def assert_detached(ids):
    """None of @ids (from bpf_ids() while tracing) is left in the kernel."""
    assert ids, "the tracer held no BPF program or link"
    left = ids & loaded_bpf_ids()
    assert not left, f"still loaded after exit: {sorted(left)}"


