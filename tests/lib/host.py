# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Running things on this host: the real tcpaccept and the test peer, and
which BPF objects a tracer holds and leaves (the host and package tests)."""
import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

from tests.lib import PEER, ROOT, TCPACCEPT
from tests.lib.checks import LOST_RE, parse_peer, parse_rows


def bpf_program_names():
    """The programs tcpaccept.bpf.c defines (a SEC() line, then the
    function), cut to the kernel's 15 characters."""
    with open(os.path.join(ROOT, "tcpaccept.bpf.c")) as f:
        src = f.read()
    names = re.findall(r'^SEC\("[^"]+"\)\s*\nint\s+(?:BPF_\w+\()?(\w+)', src, re.M)
    # -x's brackets: DROP_BRACKET(name, ...) makes four programs.
    for n in re.findall(r'^DROP_BRACKET\((\w+),', src, re.M):
        names += [f"{k}_{n}" for k in ("fentry", "fexit", "kprobe", "kretprobe")]
    # ACCEPT_SYSCALL_PROGS(enter, on_enter, exit, on_exit): enter, enter4,
    # exit, exit4.
    for enter, exit_ in re.findall(r'^ACCEPT_SYSCALL_PROGS\((\w+), \w+, (\w+),', src, re.M):
        names += [enter, enter + "4", exit_, exit_ + "4"]
    assert len(names) >= 4, f"no BPF programs found in tcpaccept.bpf.c: {names}"
    return {n[:15] for n in names}


OUR_PROGS = bpf_program_names()
STARTED = []    # every process a test started, killed if the test left it
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_pytest():
    """In the child: SIGKILL when pytest goes, however it goes, so that no
    tracer outlives the tests holding BPF programs."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# --- running things -----------------------------------------------------------

class Tracer:
    """A running tcpaccept; its stdout and stderr are drained all the time
    (as a terminal would), so a large output never blocks it."""

    def __init__(self, *args, binary=None, wrapper=(), wait=True, header_timeout=30,
                 ready_on_stderr=False):
        """@ready_on_stderr: the output has no header (-j, -c): pass -v
        and wait for its "way in" line, printed once attached instead."""
        self.args = args
        self.proc = subprocess.Popen([*wrapper, binary or TCPACCEPT, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_pytest)
        STARTED.append(self.proc)
        self.pid = self.proc.pid
        self._out = bytearray()
        self._err = bytearray()
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._drain, args=(f, buf), daemon=True)
                         for f, buf in ((self.proc.stdout, self._out),
                                        (self.proc.stderr, self._err))]
        for r in self._readers:
            r.start()
        if wait and ready_on_stderr:
            self.wait_for(lambda out, err: "tcpaccept: way in: " in err, header_timeout,
                          "not attached")
        elif wait:
            self.wait_header(header_timeout)

    def _drain(self, f, buf):
        fd = f.fileno()
        while True:
            chunk = os.read(fd, 65536)
            with self._cond:
                buf.extend(chunk)
                self._cond.notify_all()
            if not chunk:
                return

    def out(self):
        with self._cond:
            return bytes(self._out)

    def err(self):
        with self._cond:
            return bytes(self._err).decode(errors="replace")

    def wait_for(self, pred, timeout, what):
        """Waits until pred(stdout bytes, stderr text) holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(bytes(self._out), bytes(self._err).decode(errors="replace")):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(r.is_alive() for r in self._readers)):
                    self.proc.kill()
                    raise AssertionError(
                        f"tcpaccept {self.args}: {what} (waited up to {timeout}s; exit "
                        f"status {self.proc.poll()}); stderr: "
                        f"{bytes(self._err).decode(errors='replace')}")
                self._cond.wait(min(left, 0.2))

    def wait_header(self, timeout=30):
        self.wait_for(lambda out, err: b"\n" in out, timeout, "no header")

    def objects(self):
        return bpf_objects(self.pid)

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Signals the tracer, waits for it; returns (stdout, stderr, status)."""
        if sig is not None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"tcpaccept {self.args} did not exit {timeout}s after {sig}")
        for r in self._readers:
            r.join(timeout)
        return self.out().decode(errors="replace"), self.err(), rc


def run_tcpaccept(*args, timeout=10, **kw):
    """Runs tcpaccept to completion (a refusal, --help); the CompletedProcess."""
    return subprocess.run([TCPACCEPT, *args], capture_output=True, timeout=timeout, **kw)


def bpf_calls(tmp_path, *args, env=None):
    """Runs tcpaccept under strace; returns (its result, the bpf() and
    perf_event_open() calls it made)."""
    trace = tmp_path / "strace"
    res = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf,perf_event_open",
                          "-o", str(trace), TCPACCEPT, *args], capture_output=True,
                         timeout=10, env=env)
    calls = [l for l in trace.read_text().splitlines() if "bpf(" in l or "perf_event_open(" in l]
    return res, calls


def no_bpf_calls(tmp_path, *args):
    """Runs tcpaccept, then again under strace; returns (the first run's
    result, the bpf() and perf_event_open() calls the second made). Under
    `make sanitize` LeakSanitizer checks the first run; it cannot work in a
    traced process (tests/tests.mk), so the second runs without it."""
    res = run_tcpaccept(*args)
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    traced_res, calls = bpf_calls(tmp_path, *args, env=env)
    assert (traced_res.returncode, traced_res.stderr) == (res.returncode, res.stderr), \
        (res, traced_res)
    return res, calls


def readme():
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def peer(*args, prefix=()):
    """Runs tcppeer to completion; returns (ready, accepts)."""
    res = subprocess.run([*prefix, PEER, *args], capture_output=True, timeout=120)
    assert res.returncode == 0, f"tcppeer {args} failed: {res.stderr.decode()}"
    ready, accepts, _ = parse_peer(res.stdout.decode())
    return ready, accepts


class WaitingPeer:
    """A tcppeer started with --wait: its PID is known before it connects."""

    def __init__(self, *args, prefix=()):
        """@prefix: a command that execs tcppeer (cgroups.in_cgroup(),
        pidns.IN_NEW_PIDNS); READY's pid is then what tcppeer's getpid()
        said, in its own PID namespace."""
        self.proc = subprocess.Popen([*prefix, PEER, "--wait", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        STARTED.append(self.proc)
        self.ready_line = self.proc.stdout.readline().decode()
        assert self.ready_line.startswith("READY "), f"tcppeer: {self.ready_line!r}"
        self.pid = int(self.ready_line.split("pid=")[1].split()[0])
        self.port = int(self.ready_line.split("port=")[1].split()[0])

    def go(self):
        out, err = self.proc.communicate(b"go\n", timeout=120)
        assert self.proc.returncode == 0, f"tcppeer failed: {err.decode()}"
        return parse_peer(self.ready_line + out.decode())[1]


def traced(tracer_args, *peer_args, **columns):
    """Traces one tcppeer run; returns (rows, ready, accepts, stderr)."""
    t = Tracer(*tracer_args)
    ready, accepts = peer(*peer_args)
    out, err, rc = t.stop()
    assert rc == 0, f"tcpaccept exited {rc}: {err}"
    assert not LOST_RE.search(err), err
    return parse_rows(out, **columns), ready, accepts, err


def free_port(below=None):
    """A port below the ephemeral range (or below @below) that nothing is
    bound to: no connect() elsewhere on the host can take it before tcppeer
    binds it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    if below is not None:
        low = min(low, below)
    for _ in range(1000):
        port = random.randrange(max(low - 12000, 1024), low)
        try:
            for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                with socket.socket(family) as s:
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
        except OSError:
            continue
        return port
    raise AssertionError(f"no free port below {low}")


# --- BPF objects -----------------------------------------------------------------

def bpf_objects(pid):
    """The BPF programs, links and maps process @pid holds: from the fdinfo
    of its file descriptors (bpftool here cannot tell whose an object is:
    the kernel's lockdown refuses the iterator it uses)."""
    objs = {"prog": set(), "link": set(), "map": set()}
    fddir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                info = f.read()
        except FileNotFoundError:
            continue
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        if "link_id" in fields:
            objs["link"].add(int(fields["link_id"]))
        elif "prog_id" in fields:
            objs["prog"].add(int(fields["prog_id"]))
        elif "map_id" in fields:
            objs["map"].add(int(fields["map_id"]))
    return objs


def bpftool_ids(kind):
    res = subprocess.run(["bpftool", "-j", kind, "list"], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    return {o["id"]: o for o in json.loads(res.stdout or b"[]")}


def assert_loaded(objs):
    """The objects are in the kernel, and the programs are ours."""
    progs = bpftool_ids("prog")
    assert objs["prog"] and objs["link"] and objs["map"], objs
    for prog_id in objs["prog"]:
        assert prog_id in progs, f"program {prog_id} not listed by bpftool"
        assert progs[prog_id].get("name", "")[:15] in OUR_PROGS, progs[prog_id]
    links = bpftool_ids("link")
    for lid in objs["link"]:
        assert lid in links and links[lid]["prog_id"] in objs["prog"], (lid, links.get(lid))
    assert objs["map"] <= set(bpftool_ids("map")), objs["map"]


def assert_unloaded(objs, timeout=10):
    """None of the objects is left in the kernel. The last reference goes
    when the process's files are closed; a link's perf event may be freed a
    moment later, hence the wait (not a retry of the check's logic)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {kind: objs[kind] & set(bpftool_ids(kind)) for kind in objs}
        if not any(left.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still loaded {timeout}s after tcpaccept exited: {left}")
        time.sleep(0.1)
