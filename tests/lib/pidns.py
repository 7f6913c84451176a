# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Running things in a new PID namespace, as `unshare -p -f --mount-proc`
does (bcc #1329: a tracer there), and entering one from outside.

    t = Tracer(..., wrapper=IN_NEW_PIDNS)      # tcpaccept, PID 1's child there
    inner = inside_pid(t.pid)                  # its host PID
    WaitingPeer(..., prefix=enter_pidns(inner))   # a server in the same namespace

/proc inside is the namespace's own (--mount-proc): `ps` there shows its
PIDs, and so must tcpaccept."""
import os
import time

from tests.lib.cgroups import nspids

# unshare forks (-f): the command is PID 1 of the new namespace and the
# child of the unshare process the caller started.
IN_NEW_PIDNS = ("unshare", "--pid", "--fork", "--mount-proc", "--")


def inside_pid(unshare_pid, timeout=10):
    """The host PID of the command that the unshare process @unshare_pid
    forked into the new namespace: its child whose NSpid has one more
    level."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children") as f:
                children = [int(x) for x in f.read().split()]
        except FileNotFoundError:
            children = []
        for pid in children:
            if len(nspids(pid)) == len(nspids(unshare_pid)) + 1:
                return pid
        assert time.monotonic() < deadline, f"unshare {unshare_pid} forked nothing in {timeout}s"
        time.sleep(0.05)


def enter_pidns(pid):
    """A command prefix that runs the rest in @pid's PID and mount
    namespaces (its /proc), as a new child there (nsenter forks)."""
    return ("nsenter", f"--target={pid}", "--pid", "--mount", "--")


def pidns_inode(pid):
    return os.stat(f"/proc/{pid}/ns/pid").st_ino
