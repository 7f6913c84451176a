# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""A network namespace of a test's own, and the kernel's counters in it: what
nstat says of the namespace (TcpExtListenDrops, ...) and what `ss -tlm` says
of a listener (skmem's d: the listener's own drop counter, sk_drops).

Things run inside with NetNs.cmd() / run() / popen(); the tracer stays
outside (it sees every namespace). Each counter is read from the kernel's own
tools, the truth the tracer's figures are checked against."""
import itertools
import json
import os
import re
import subprocess

_SEQ = itertools.count()


class NetNs:
    """`ip netns add` with lo up and @sysctls ("net.ipv4.tcp_syncookies=0")
    set inside; deleted by close() or at the end of a with block."""

    def __init__(self, sysctls=()):
        self.name = f"tcpaccept-{os.getpid()}-{next(_SEQ)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=30)
        try:
            self.run("ip", "link", "set", "lo", "up")
            for s in sysctls:
                self.run("sysctl", "-qw", s)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], timeout=30)

    @property
    def inode(self):
        """The namespace's inode number: what tcpaccept -j shows as netns."""
        return os.stat(f"/run/netns/{self.name}").st_ino

    def cmd(self, *args):
        """The command line that runs @args inside."""
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args, timeout=120):
        """Runs @args inside to completion (it must succeed); returns stdout."""
        res = subprocess.run(self.cmd(*args), capture_output=True, timeout=timeout)
        assert res.returncode == 0, \
            f"{args} in {self.name} exited {res.returncode}: {res.stderr.decode()}"
        return res.stdout.decode()

    def popen(self, *args, **kwargs):
        return subprocess.Popen(self.cmd(*args), **kwargs)

    def nstat(self):
        """Every counter nstat knows in the namespace, absolute (no history
        file read or written): {"TcpExtListenDrops": N, ...}."""
        return json.loads(self.run("nstat", "--ignore", "--noupdate", "--zeros", "--json"))["kernel"]

    def listen_drops(self, port):
        """The drop counters (skmem's d) of the sockets listening on TCP
        @port in the namespace, added up: one listener's own, or for an
        MPTCP listener its listening subflow's (where the kernel counts)
        and the MPTCP socket's. Fails if nothing listens there."""
        out = self.run("ss", "-H", "-t", "-l", "-m", "-n", "sport", "=", f":{port}")
        drops = [int(d) for d in re.findall(r"skmem:\([^)]*\bd(\d+)\)", out)]
        assert drops, f"nothing listens on port {port} in {self.name}: {out!r}"
        return sum(drops)


def counter_delta(before, after, *names):
    """{name: after - before} for nstat counters @names."""
    return {n: after[n] - before[n] for n in names}
