# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end inside Debian's own kernels, booted under qemu (TCG).

Each kernel boots once with tests/vm/guest.sh, which runs every way in that
kernel allows against tests/peer/tcppeer; this file checks what it printed,
with the same field-by-field checks as the host tests.
"""
import functools
from collections import Counter
import os
import re
import subprocess
import tempfile
import time

import pytest

from tests.lib import OUTPUT, PEER, PEER_NAME, TCPACCEPT
from tests.lib.checks import (LOST_RE, check_json, check_rows, check_wait_slots, check_wait_sum,
                              expected_keys, json_wait_slots, one, parse_count_table,
                              parse_json_lines, parse_peer, parse_prom, parse_rows, peer_lines,
                              peer_stats, prom_wait_slots, row_key, series)

HERE = os.path.dirname(os.path.abspath(__file__))
# What `make ARCH=arm64` builds.
ARM64_OUTPUT = os.path.join(OUTPUT, "arm64")
# The static binaries for each architecture: x86_64 from `make`, arm64 from
# `make ARCH=arm64` (TCPACCEPT=path tests another x86_64 build).
BINARIES = {
    "amd64": (TCPACCEPT, PEER),
    "arm64": (os.path.join(ARM64_OUTPUT, "tcpaccept"), os.path.join(ARM64_OUTPUT, PEER_NAME)),
}


def read_kernel_list():
    """tests/vm/kernels.list, through its one reader (kernels.sh list):
    name -> (suite, architecture, series), in the list's order."""
    res = subprocess.run([os.path.join(HERE, "kernels.sh"), "list"], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return {name: (suite, arch, series) for name, suite, arch, series in
            (line.split() for line in res.stdout.splitlines())}


# Debian's kernels: name -> (suite, architecture, series).
KERNELS = read_kernel_list()
WAYS = ["fexit", "kprobe", "tracepoint"]


def series_at_least(kernel, major, minor):
    return tuple(map(int, KERNELS[kernel][2].split("."))) >= (major, minor)


def has_fexit(kernel):
    """fexit on a kernel function needs a BPF trampoline for it: arm64 has
    them only with ftrace direct calls, from Linux 6.4 (2aa6ac03516d), so
    not in 6.1."""
    return KERNELS[kernel][1] != "arm64" or series_at_least(kernel, 6, 4)


# Every way in each kernel allows; fexit where it is refused has a test of
# its own (test_fexit_refused_where_unsupported).
KERNEL_WAYS = [(k, w) for k in KERNELS for w in WAYS if w != "fexit" or has_fexit(k)]


def kernel_way_id(kernel_way):
    kernel, way = kernel_way
    return f"{kernel}-{KERNELS[kernel][2]}-{way}"


LOGS = os.environ.get("TCPACCEPT_VM_LOGS") or tempfile.mkdtemp(prefix="tcpaccept-vm-")


class Case:
    def __init__(self):
        self.out, self.err, self.rc, self.peers, self.notes = "", "", None, [], []
        self.capeff = None
        self.metrics = ""	# the --metrics file, after the tracer stopped
        self.misses = 0		# runs of its programs the kernel skipped
        self.progs = None	# the BPF programs loaded while it ran (kallsyms' names)
        self.ksyms = {}		# symbol -> how many times kallsyms lists it
        self.attached = []	# (type, name): what the tracer's fds attach to


def parse_log(text):
    """Splits the guest's output into cases keyed by (way, name)."""
    cases, case, section = {}, None, None
    for line in text.splitlines():
        if line.startswith("@@@ CASE "):
            _, _, way, name = line.split(" ", 3)
            case = cases[(way, name)] = Case()
            section = None
        elif case is None:
            continue
        elif line.startswith("@@@ TRACER-RC "):
            case.rc = int(line.split()[2])
        elif line in ("@@@ TRACER-OUT", "@@@ TRACER-ERR", "@@@ METRICS"):
            section = line[4:]
        elif line.startswith("@@@ PEER "):
            label, rc = re.match(r"@@@ PEER (\S+) rc=(\d+)", line).groups()
            case.peers.append([label, int(rc), ""])
            section = "PEER"
        elif line.startswith("@@@ MISSES "):
            case.misses = int(line.split()[2])
        elif line.startswith("@@@ CAPEFF "):
            # Empty when the tracer had already exited (a refused way in).
            case.capeff = line[len("@@@ CAPEFF "):].strip() or None
        elif line.startswith("@@@ KSYM "):
            _, _, name, count = line.split()
            case.ksyms[name] = int(count)
        elif line.startswith("@@@ ATTACHED "):
            _, _, kind, name = line.split(" ", 3)
            case.attached.append((kind, name))
        elif line.startswith("@@@ PROGS "):
            case.progs = set(line.split()[2:])
        elif line.startswith("@@@ NOTE "):
            case.notes.append(line)
        elif line == "@@@ END":
            case, section = None, None
        elif section == "TRACER-OUT":
            case.out += line + "\n"
        elif section == "TRACER-ERR":
            case.err += line + "\n"
        elif section == "PEER":
            case.peers[-1][2] += line + "\n"
        elif section == "METRICS":
            case.metrics += line + "\n"
    return cases


# Kernels whose VM hung once and was booted again (see boot()).
RETRIED = set()
# Kernel -> the uname -r it booted, for the matrix printed at the end.
RELEASES = {}
# Kernel -> seconds its fetch and VM run(s) took, for the matrix: what each
# kernel adds to the suite's wall time.
SECONDS = {}
# (kernel, way) -> runs of tcpaccept's programs the kernel skipped, for the
# matrix (see check_rows_or_skipped). Each test's own checks say whether a
# skip cost anything: most skips are of runs that show nothing (the -q
# program on a socket's other state changes).
SKIPPED = Counter()


def has_mptcp(kernel):
    """Debian's 5.10 is built without MPTCP (CONFIG_MPTCP is not set)."""
    return KERNELS[kernel][0] != "bullseye"


def sctp_modules(kernel):
    """The sctp module and what it needs, from the kernel's own package."""
    suite, arch, _ = KERNELS[kernel]
    res = subprocess.run([os.path.join(HERE, "kernels.sh"), "modules", suite, arch, "sctp"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"cannot take sctp out of the {kernel} kernel: {res.stderr}"
    mdir = res.stdout.strip()
    with open(os.path.join(mdir, "load-order")) as f:
        names = f.read().split()
    assert names and names[-1] == "sctp.ko", names
    return [os.path.join(mdir, n) for n in names]


def min_btf(kernel, vmlinuz):
    """A --btf file for @kernel: its BTF, taken from its image, cut down
    by `bpftool gen min_core_btf` to what tcpaccept's BPF object reads."""
    arch = KERNELS[kernel][1]
    obj = os.path.join(ARM64_OUTPUT if arch == "arm64" else OUTPUT, "tcpaccept.bpf.o")
    out_dir = os.path.join(OUTPUT, "vm", kernel)
    os.makedirs(out_dir, exist_ok=True)
    full, out = os.path.join(out_dir, "vmlinux.btf"), os.path.join(out_dir, "tcpaccept.min.btf")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "extract_btf.py"), vmlinuz, full],
                   check=True, timeout=300)
    subprocess.run(["bpftool", "gen", "min_core_btf", full, out, obj], check=True, timeout=60)
    os.unlink(full)
    return out


def run_vm(kernel, vmlinuz, log):
    suite, arch, _ = KERNELS[kernel]
    tcpaccept, peer = BINARIES[arch]
    modules = sctp_modules(kernel)
    btf = min_btf(kernel, vmlinuz)
    # One vCPU. qemu's multi-threaded TCG does not keep a second vCPU in
    # step with the kernel's live code patching (static keys, int3-based
    # text_poke as tracepoints and kprobes come and go): with two vCPUs a
    # trixie x86_64 guest oopsed on "int3" in syscall_exit_to_user_mode_
    # prepare as a tracer started, 5.10 guests hung twice in ~20 boots, and
    # 1-2 in 40 tracepoint sessions on arm64 saw no syscall exit event at
    # all; with one vCPU, 0 in 60 such sessions and no hang or oops since.
    # The tests of many threads blocked at once still run 64 threads.
    smp = "1"
    # A run takes 2-6 min (-x's bursts most); the timeout only bounds a hung VM.
    return subprocess.run([os.path.join(HERE, "boot.sh"), "--kernel", vmlinuz, "--smp", smp,
                           "--arch", "arm64" if arch == "arm64" else "x86_64",
                           "--script", os.path.join(HERE, "guest.sh"), "--out", log,
                           "--timeout", "1200", "--env", "WAYS=" + " ".join(WAYS),
                           "--env", "SCTP_MODULES=" + " ".join(map(os.path.basename, modules)),
                           "--env", "BTF_FILE=" + os.path.basename(btf),
                           tcpaccept, peer, *modules, btf],
                          capture_output=True, text=True, timeout=1300)


@functools.lru_cache(maxsize=None)
def boot(kernel):
    """Boots @kernel once; returns (uname -r, cases)."""
    start = time.monotonic()
    suite, arch, _ = KERNELS[kernel]
    tcpaccept, peer = BINARIES[arch]
    for path in (tcpaccept, peer):
        assert os.access(path, os.X_OK), f"{path} is not built"
    fetch = subprocess.run([os.path.join(HERE, "kernels.sh"), "fetch", suite, arch],
                           capture_output=True, text=True, timeout=900)
    assert fetch.returncode == 0, f"cannot fetch the {kernel} kernel: {fetch.stderr}"
    vmlinuz = fetch.stdout.strip()
    os.makedirs(LOGS, exist_ok=True)
    # One retry, and only for a VM that hung or died (boot.sh 124: timeout;
    # 125: no exit marker), as under qemu's TCG (see run_vm). The log is
    # kept and the retry is reported in the matrix; a test that fails is
    # never retried.
    for attempt in (1, 2):
        log = os.path.join(LOGS, f"{kernel}.log")
        res = run_vm(kernel, vmlinuz, log)
        if res.returncode not in (124, 125) or attempt == 2:
            break
        os.replace(log, os.path.join(LOGS, f"{kernel}.hung.log"))
        RETRIED.add(kernel)
        print(f"\nvm: {kernel} hung ({res.returncode}), log kept as {kernel}.hung.log; "
              f"booting it once more:\n{res.stderr}")
    with open(log, errors="replace") as f:
        text = f.read()
    assert res.returncode == 0, f"{kernel} VM failed ({res.returncode}): {res.stderr}"
    uname = re.search(r"TCPACCEPT-VM-BEGIN (\S+)", text).group(1)
    RELEASES[kernel] = uname
    SECONDS[kernel] = time.monotonic() - start
    return uname, parse_log(text)


def get_case(kernel, way, name):
    uname, cases = boot(kernel)
    case = cases.get((way, name))
    assert case is not None, f"{uname}: no output for {way} {name}"
    assert not case.notes, case.notes
    SKIPPED[(kernel, way)] += case.misses
    assert case.rc == 0, f"{uname} {way} {name}: tcpaccept exited {case.rc}: {case.err}"
    assert not LOST_RE.search(case.err), case.err
    return uname, case


def peers(case):
    result = {}
    for label, rc, text in case.peers:
        assert rc == 0, f"tcppeer {label} exited {rc}: {text}"
        result[label] = parse_peer(text)
    return result


def check_way_line(case, way, uname):
    chosen = [l for l in case.err.splitlines() if l.startswith("tcpaccept: way in: ")]
    assert chosen and chosen[0].startswith(f"tcpaccept: way in: {way}"), (uname, case.err)


def kernel_ids():
    return [f"{k}-{KERNELS[k][2]}" for k in KERNELS]


@pytest.mark.parametrize("kernel", list(KERNELS), ids=kernel_ids())
def test_booted_the_listed_series(kernel):
    """The suite still serves the series tests/vm/kernels.list names (and
    the README's table claims): a backports suite moves on."""
    uname, _ = boot(kernel)
    series = KERNELS[kernel][2]
    assert uname.startswith(series + "."), (
        f"{kernel} booted {uname}, but tests/vm/kernels.list says {series}: "
        "update its line there and its row in README.md's table")


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_fields(kernel, way):
    """IPv4, IPv6 (accept4), IPv4-mapped, reset-before-accept: every field;
    an AF_UNIX accept: nothing."""
    uname, case = get_case(kernel, way, "fields")
    check_way_line(case, way, uname)
    # Every capability is gone once attached.
    assert case.capeff == "0000000000000000", case.capeff
    rows = parse_rows(case.out)
    p = peers(case)
    for label in ("ipv4", "ipv6-accept4", "mapped", "rst"):
        ready, accepts, _ = p[label]
        check_rows(rows, accepts, ready["pid"])
    ready, _, _ = p["unix"]
    assert not [r for r in rows if r["pid"] == ready["pid"]], "a UNIX accept was printed"
    assert len(rows) == 3 + 3 + 2 + 16, f"{uname} {way}: unexpected rows:\n{case.out}"
    # Nothing of -x is loaded without it (the listing works: the way's
    # accept program is there).
    assert loaded(case.progs, ACCEPT_PROGS[way]), (uname, way, case.progs)
    assert not loaded(case.progs, FAILED_PROGS), (uname, way, case.progs)


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_blocked_before_start(kernel, way):
    """A thread already blocked in accept() when tcpaccept starts (bcc #2165)."""
    uname, case = get_case(kernel, way, "blocked-before-start")
    ready, accepts, _ = peers(case)["blocked"]
    check_rows(parse_rows(case.out), accepts, ready["pid"])


def check_rows_or_skipped(rows, accepts, pid, skipped):
    """check_rows(), where the kernel skipped @skipped runs of tcpaccept's
    programs and counted them (recursion_misses): exactly that many accepts
    have no row, and every row is right. Debian's 7.x kernels preempt
    kernel code (x86_64: "lazy"; arm64: built preemptible; up to 6.12 they
    do not), and a BPF program runs preemptibly, under migrate_disable(): a
    thread preempted inside one leaves it marked running on that CPU, and
    the kernel skips the next run there (fexit: the trampoline's
    per-program guard; tracepoints: trace_call_bpf()'s per-CPU
    bpf_prog_active, which also skips a run that would nest in another).
    With one vCPU and 64 threads accepting at once that happens in a share
    of the runs."""
    if not skipped:
        return check_rows(rows, accepts, pid)
    left = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"], r["laddr"],
                           r["lport"]) for r in rows if r["pid"] == pid)
    printed = []
    for accept, key in zip(accepts, expected_keys(accepts)):
        if left[key]:
            left[key] -= 1
            printed.append(accept)
    assert len(accepts) - len(printed) == skipped, (
        f"{len(accepts) - len(printed)} accepts not printed, the kernel skipped {skipped} runs")
    check_rows(rows, printed, pid)


def test_check_rows_or_skipped_counts_exactly():
    """The check above with the kernel's count, on rows and accepts of
    tcppeer's and tcpaccept's formats: one more row missing, or one row
    too many, fails."""
    accepts = [{"pid": "7", "tid": "7", "comm": "crowd", "ip": "4", "raddr": "127.0.0.1",
                "rport": str(40000 + i), "laddr": "127.0.0.1", "lport": "5000",
                "proto": "tcp"} for i in range(4)]
    rows = [{"pid": 7, "comm": "crowd", "ip": 4, "raddr": "127.0.0.1", "rport": 40000 + i,
             "laddr": "127.0.0.1", "lport": 5000} for i in range(4)]
    check_rows_or_skipped(rows, accepts, 7, 0)
    check_rows_or_skipped(rows[1:], accepts, 7, 1)
    for got, skipped in ((rows[2:], 1), (rows[1:], 2), (rows[1:] + rows[1:2], 1)):
        with pytest.raises(AssertionError):
            check_rows_or_skipped(got, accepts, 7, skipped)


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_many_threads_blocked(kernel, way):
    """64 threads blocked in accept() at once, after tcpaccept started: the
    kretprobe's maxactive must cover them all (bcc #1072). Only the accept
    programs run here (no -q), so each run the kernel skipped is an accept."""
    uname, case = get_case(kernel, way, "many-blocked-threads")
    ready, accepts, _ = peers(case)["crowd"]
    assert len(accepts) == 64
    check_rows_or_skipped(parse_rows(case.out), accepts, ready["pid"], case.misses)


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_family_filters(kernel, way):
    """-6 --client-family=4: an IPv4 socket fails -6, an IPv6 client fails
    --client-family=4; the IPv4 clients of a dual-stack listener pass both."""
    uname, case = get_case(kernel, way, "client-family")
    rows = parse_rows(case.out)
    p = peers(case)
    ready, accepts, _ = p["mapped"]
    assert len(accepts) == 3
    check_rows(rows, accepts, ready["pid"])
    for label in ("ipv4", "ipv6"):
        ready, accepts, _ = p[label]
        assert len(accepts) == 2, label
        assert not [r for r in rows if r["pid"] == ready["pid"]], f"{uname} {way}: {label} shown"
    assert len(rows) == 3, f"{uname} {way}: unexpected rows:\n{case.out}"


@pytest.mark.parametrize("kernel", list(KERNELS), ids=kernel_ids())
def test_auto_picks_the_best_way(kernel):
    uname, case = get_case(kernel, "auto", "choice")
    check_way_line(case, "fexit" if has_fexit(kernel) else "kprobe", uname)
    ready, accepts, _ = peers(case)["ipv4"]
    check_rows(parse_rows(case.out), accepts, ready["pid"])


# --- the options beyond bcc, on every way in -------------------------------------

def io_uring_seen(kernel, way):
    """The tracepoint way sees io_uring accepts through io_uring_complete's
    request pointer, which the tracepoint has from 5.19 (not in 5.10)."""
    return way != "tracepoint" or series_at_least(kernel, 5, 19)


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_json_queue_io_uring(kernel, way):
    uname, case = get_case(kernel, way, "json-queue-io_uring")
    objs = parse_json_lines(case.out)
    p = peers(case)
    ready, accepts, _ = p["hostile"]
    mine = check_json(objs, accepts, ready["pid"], queue=True)
    assert {o["comm"] for o in mine} == {"\x1b[2J\n fake 1.2."}
    assert all(o["wait_ms"] is not None and o["wait_ms"] >= 90 for o in mine), mine
    ready, accepts, _ = p["nobody"]
    check_json(objs, accepts, ready["pid"], queue=True)
    ready, accepts, _ = p["io_uring"]
    if io_uring_seen(kernel, way):
        check_json(objs, accepts, ready["pid"], queue=True)
    else:
        assert not [o for o in objs if o["pid"] == ready["pid"]]
    for o in objs:
        assert o["backlog_max"] > 0


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_count(kernel, way):
    uname, case = get_case(kernel, way, "count")
    p = peers(case)
    lines = case.out.splitlines()
    assert lines[0] == "PID     COMM         IP LADDR            LPORT ACCEPTS", case.out
    rows = [tuple(line.split()) for line in lines[1:]]
    busy, quiet = p["busy"][0], p["quiet"][0]
    assert rows == [(str(busy["pid"]), "busy", "4", "127.0.0.1", str(busy["port"]), "7"),
                    (str(quiet["pid"]), "quiet", "6", "::1", str(quiet["port"]), "2")], rows


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_uid_filter(kernel, way):
    uname, case = get_case(kernel, way, "uid-filter")
    p = peers(case)
    rows = parse_rows(case.out, uid=True)
    ready, accepts, _ = p["nobody"]
    check_rows(rows, accepts, ready["pid"])
    assert [r["uid"] for r in rows] == [65534] * 3, case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_cgroup_filter(kernel, way):
    uname, case = get_case(kernel, way, "cgroup-filter")
    p = peers(case)
    rows = parse_rows(case.out)
    ready, accepts, _ = p["inside"]
    check_rows(rows, accepts, ready["pid"])
    assert len(rows) == 2, case.out


@pytest.mark.parametrize("kernel", list(KERNELS), ids=kernel_ids())
def test_nothing_left_behind(kernel):
    """After every way in ran (and exited, without its capabilities), no
    kprobe event of tcpaccept's is left in tracefs."""
    uname, case = get_case(kernel, "all", "leftovers")
    assert case.out == "", f"{uname}: kprobe_events still has:\n{case.out}"


@pytest.mark.parametrize("kernel", [k for k in KERNELS if not has_fexit(k)])
def test_fexit_refused_where_unsupported(kernel):
    """Where the kernel has no trampoline for the function, --way=fexit
    fails with one clear line in every case, and auto passes it over."""
    uname, cases = boot(kernel)
    # (With --btf and sysfs BTF hidden, fexit is refused for that first:
    # test_btf_file_with_kernel_btf_hidden.)
    fexit_cases = {name: c for (way, name), c in cases.items()
                   if way == "fexit" and name != "btf-file"}
    assert len(fexit_cases) >= 7, fexit_cases
    for name, case in fexit_cases.items():
        # One line of tcpaccept's own (the rest is -v's libbpf output).
        lines = [l for l in case.err.splitlines() if l.startswith("tcpaccept: ")]
        assert case.rc == 1 and lines == [
            "tcpaccept: the fexit way in is not available: failed to attach a test fexit "
            "program: not supported by this kernel (ENOTSUPP)"], (uname, name, case.rc, case.err)
    auto = cases[("auto", "choice")]
    assert "tcpaccept: passed over fexit: failed to attach a test fexit program" in auto.err


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_all_columns(kernel, way):
    """-T -t -U -w -q together: every column in its place, every value."""
    uname, case = get_case(kernel, way, "columns")
    rows = parse_rows(case.out, wallclock=True, timestamp=True, uid=True, queue=True, wide=True)
    ready, accepts, _ = peers(case)["ipv6"]
    check_rows(rows, accepts, ready["pid"])
    assert [r["uid"] for r in rows] == [0, 0] and float(rows[0]["ts"]) == 0.0, case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_interval_and_duration(kernel, way):
    """-c -i 1 -d 3: tables headed by the time, which add up to the accepts
    made, and an exit by itself with status 0."""
    uname, case = get_case(kernel, way, "interval-duration")
    ready, accepts, _ = peers(case)["first"]
    tables, cur = [], None
    for line in case.out.splitlines():
        if re.fullmatch(r"\d\d:\d\d:\d\d", line):
            cur = []
            tables.append(cur)
        elif line:
            cur.append(line)
    assert 2 <= len(tables) <= 4, case.out
    counted = sum(n for t in tables for pid, comm, *_, n in parse_count_table(t)
                  if pid == ready["pid"] and comm == "first")
    assert counted == len(accepts) == 4, case.out


# --- every kind of accept: MPTCP, Fast Open, SYN cookies, SCTP; --btf ------------

def mptcp_refused(case, labels, uname):
    """On a kernel without MPTCP, socket(..., IPPROTO_MPTCP) fails: each of
    these tcppeer runs says so and exits 1, and nothing is printed."""
    for label, rc, text in case.peers:
        if label in labels:
            assert rc == 1 and "(protocol 262): Protocol not supported" in text, (uname, label, text)


def peers_of(case, labels):
    """The tcppeer runs named @labels, each of which must have succeeded."""
    got = {}
    for label, rc, text in case.peers:
        if label in labels:
            assert rc == 0, f"tcppeer {label} exited {rc}: {text}"
            got[label] = parse_peer(text)
    assert set(got) == set(labels), (labels, list(got))
    return got


MPTCP_LABELS = ["mptcp-ipv4", "mptcp-ipv6", "mptcp-mapped", "mptcp-plain", "mptcp-rst",
                "mptcp-io_uring"]


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_mptcp(kernel, way):
    """MPTCP clients, plain clients of an MPTCP listener, resets before
    accept(), io_uring: one line each, with the fields of the server's own
    fd and proto "mptcp" (or "tcp" for a plain client); -q's BL and WAIT."""
    uname, case = get_case(kernel, way, "mptcp")
    objs = parse_json_lines(case.out)
    if not has_mptcp(kernel):
        mptcp_refused(case, MPTCP_LABELS, uname)
        assert objs == [], case.out
        return
    p = peers_of(case, MPTCP_LABELS)
    for label in MPTCP_LABELS:
        ready, accepts, _ = p[label]
        if label == "mptcp-io_uring" and not io_uring_seen(kernel, way):
            assert not [o for o in objs if o["pid"] == ready["pid"]]
            continue
        assert {a["proto"] for a in accepts} == {"tcp" if label == "mptcp-plain" else "mptcp"}
        mine = check_json(objs, accepts, ready["pid"], queue=True)
        assert all(o["rport"] > 0 and o["backlog_max"] > 0 for o in mine), mine
    ready, accepts, _ = p["mptcp-rst"]
    mine = [o for o in objs if o["pid"] == ready["pid"]]
    assert [o["backlog"] for o in mine] == [3, 2, 1, 0], mine
    for k, o in enumerate(mine, 1):
        assert o["wait_ms"] is not None and o["wait_ms"] >= k * 100, o


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_mptcp_columns_and_port_filter(kernel, way):
    uname, case = get_case(kernel, way, "mptcp-columns")
    rows = parse_rows(case.out, proto=True)
    if not has_mptcp(kernel):
        mptcp_refused(case, ["mptcp-mixed", "mptcp-other-port"], uname)
        assert rows == [], case.out
        return
    p = peers_of(case, ["mptcp-mixed", "mptcp-other-port"])
    ready, accepts, _ = p["mptcp-mixed"]
    check_rows(rows, accepts, ready["pid"])
    assert sorted(r["proto"] for r in rows) == ["mptcp", "mptcp", "tcp", "tcp"], case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_mptcp_blocked_before_start(kernel, way):
    uname, case = get_case(kernel, way, "mptcp-blocked")
    rows = parse_rows(case.out, proto=True)
    if not has_mptcp(kernel):
        mptcp_refused(case, ["blocked"], uname)
        assert rows == [], case.out
        return
    ready, accepts, _ = peers_of(case, ["blocked"])["blocked"]
    check_rows(rows, accepts, ready["pid"])
    assert [r["proto"] for r in rows] == ["mptcp"], case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_mptcp_counts_kept_apart(kernel, way):
    uname, case = get_case(kernel, way, "mptcp-count")
    objs = parse_json_lines(case.out)
    if not has_mptcp(kernel):
        mptcp_refused(case, ["mixed"], uname)
        assert objs == [], case.out
        return
    ready, _, _ = peers_of(case, ["mixed"])["mixed"]
    got = sorted(({k: v for k, v in o.items() if k != "ts"} for o in objs),
                 key=lambda o: o["proto"])
    assert got == [{"pid": ready["pid"], "comm": "mixed", "ip": 4, "proto": p,
                    "laddr": "127.0.0.1", "lport": ready["port"], "accepts": 3}
                   for p in ("mptcp", "tcp")], case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_fast_open_and_syn_cookies(kernel, way):
    """Fast Open really used (the server's TCPFastOpenPassive counter) and
    SYN cookies really used (SyncookiesRecv): every accept, every field;
    WAIT is null or a true time."""
    uname, case = get_case(kernel, way, "fastopen-syncookies")
    objs = parse_json_lines(case.out)
    labels = ["tfo-ipv4", "tfo-ipv6", "cookies-ipv4", "cookies-ipv6"]
    if has_mptcp(kernel):
        labels.append("cookies-mptcp")
    else:
        mptcp_refused(case, ["cookies-mptcp"], uname)
    p = peers_of(case, labels)
    for label in labels:
        ready, accepts, _ = p[label]
        text = next(t for l, _, t in case.peers if l == label)
        stats = dict(re.findall(r"^STAT (\S+)=(\d+)$", text, re.M))
        if label.startswith("tfo"):
            # 4 of 5 (the first fetches the cookie), or 5 once an earlier
            # case in this VM left the client its cookie.
            assert int(stats.get("TcpExt.TCPFastOpenPassive", 0)) >= 4, (uname, label, text)
        else:
            assert stats.get("TcpExt.SyncookiesRecv") == str(len(accepts)), (uname, label, text)
        mine = check_json(objs, accepts, ready["pid"], queue=True)
        for o in mine:
            assert o["wait_ms"] is None or 0 <= o["wait_ms"] < 60000, o


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_sctp_and_unix_print_nothing(kernel, way):
    uname, case = get_case(kernel, way, "sctp-unix")
    objs = parse_json_lines(case.out)
    p = peers_of(case, ["sctp-ipv4", "sctp-ipv6", "unix", "tcp"])
    for label in ("sctp-ipv4", "sctp-ipv6", "unix"):
        ready, accepts, _ = p[label]
        want = "unix" if label == "unix" else "sctp"
        assert accepts and {a["proto"] for a in accepts} == {want}, (label, accepts)
        assert not [o for o in objs if o["pid"] == ready["pid"]], f"{uname} {way}: {label} shown"
    # ... while TCP is shown, by the same tracer.
    ready, accepts, _ = p["tcp"]
    check_json(objs, accepts, ready["pid"])
    assert len(objs) == 1, case.out


@pytest.mark.parametrize("kernel", list(KERNELS), ids=kernel_ids())
def test_sctp_module_loaded(kernel):
    uname, cases = boot(kernel)
    case = cases[("all", "sctp-modules")]
    assert case.rc == 0, f"{uname}: {case.out}"


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_btf_file_with_kernel_btf_hidden(kernel, way):
    """--btf with a min_core_btf file and /sys/kernel/btf hidden: kprobe
    and tracepoint trace as ever; fexit needs the kernel's own BTF and says
    so in one line."""
    uname, cases = boot(kernel)
    case = cases[("%s" % way, "btf-file")]
    assert not case.notes, case.notes
    if way == "fexit":
        lines = [l for l in case.err.splitlines() if l.startswith("tcpaccept: ")]
        assert case.rc == 1 and lines == [
            "tcpaccept: the fexit way in is not available: it needs the kernel's own BTF "
            "(/sys/kernel/btf/vmlinux), which --btf cannot stand in for"], (uname, case.err)
        return
    assert case.rc == 0, f"{uname} {way}: tcpaccept exited {case.rc}: {case.err}"
    check_way_line(case, way, uname)
    objs = parse_json_lines(case.out)
    labels = ["ipv4"] + (["mptcp-ipv6"] if has_mptcp(kernel) else [])
    if not has_mptcp(kernel):
        mptcp_refused(case, ["mptcp-ipv6"], uname)
    p = peers_of(case, labels)
    for label in labels:
        ready, accepts, _ = p[label]
        check_json(objs, accepts, ready["pid"])
    assert len(objs) == 2 * len(labels), case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_wait_histogram(kernel, way):
    """A server holding each connection 100 ms before accept(): -c -q -j's
    histograms (one per interval, added up) and --metrics' histogram hold
    the four accepts in slots, and with sums, that waits within tcppeer's
    bounds give, bucketed by the kernel."""
    uname, case = get_case(kernel, way, "histogram")
    ready, accepts, _ = peers(case)["slow"]
    port = ready["port"]
    assert len(accepts) == 4
    objs = parse_json_lines(case.out)
    counted = sum(o["accepts"] for o in objs if "accepts" in o and o["pid"] == ready["pid"])
    hists = [o for o in objs if "buckets" in o and o["lport"] == port]
    assert counted == 4 and hists, (uname, case.out)
    for h in hists:
        assert h["laddr"] == "127.0.0.1" and h["ip"] == 4, h
    counts = [sum(c) for c in zip(*map(json_wait_slots, hists))]
    unknown = sum(h["unknown"] for h in hists)
    check_wait_slots(counts, accepts, unknown, f"{uname} -c -q -j")
    # Each sum_us is printed to 0.5 ns.
    check_wait_sum(sum(h["sum_us"] for h in hists) * 1000, accepts, len(hists), unknown,
                   f"{uname} -c -q -j")
    s = parse_prom(case.metrics)
    assert one(s, "tcpaccept_accepts_total", lport=port, comm="slow", ip=4,
               laddr="127.0.0.1", proto="tcp") == 4
    unknown = int(one(s, "tcpaccept_accept_wait_unknown_total", lport=port))
    check_wait_slots(prom_wait_slots(s, lport=port), accepts, unknown, f"{uname} --metrics")
    assert one(s, "tcpaccept_accept_wait_seconds_count", lport=port) == 4 - unknown
    check_wait_sum(one(s, "tcpaccept_accept_wait_seconds_sum", lport=port) * 1e9, accepts, 1,
                   unknown, f"{uname} --metrics")
    [info] = [dict(lb) for (n, lb) in s if n == "tcpaccept_info"]
    assert info["way"] == way, info


# --- -x: failed passive connections ------------------------------------------

# The programs of each way that see its accepts, and -x's and --metrics'
# own, by name or its start: kallsyms gives the whole name from the
# program's BTF, or the first 15 characters.
ACCEPT_PROGS = {"fexit": ("fexit_accept",), "kprobe": ("kprobe_accept", "kretprobe_accep"),
                "tracepoint": ("tp_exit_accept",)}
FAILED_PROGS = ("fentry_conn", "fexit_conn", "kprobe_conn", "kretprobe_conn", "fentry_check",
                "fexit_check", "kprobe_check", "kretprobe_check", "fentry_cookie", "fexit_cookie",
                "kprobe_cookie", "kretprobe_cooki", "tp_kfree_skb", "tp_sweep", "fexit_sweep",
                "kretprobe_sweep", "fexit_sys_accep", "kprobe_sys_acce", "kretprobe_sys_a",
                "tp_sock_set_sta")
# The SYN's bracket, loaded for -x's rows of drops on fexit and kprobe.
SYN_PROGS = {"fexit": ("fentry_conn_req", "fexit_conn_requ"),
             "kprobe": ("kprobe_conn_req", "kretprobe_conn_"), "tracepoint": ("tp_kfree_skb",)}


def loaded(progs, starts):
    """The programs in @progs whose names start with one of @starts."""
    return {p for p in progs or () if p.startswith(starts)}

# The burst cases of "failed": label -> (the listener's address, SYN cookies
# on). burst4 and burst6 run at once: two listeners, each count its own.
BURSTS = {"burst4": ("127.0.0.1", True), "burst6": ("::1", True),
          "burst4-nocookies": ("127.0.0.1", False), "lazy": ("127.0.0.1", False)}


def kernel_version(uname):
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", uname).groups())


# burst4 and burst6 run at once: the kernel's counters around both.
PARALLEL = ("burst4", "burst6")


def netstat(text):
    """TcpExt's counters from /proc/net/netstat: {"TcpExt.NAME": N}."""
    lines = [l.split() for l in text.splitlines() if l.startswith("TcpExt:")]
    names, values = lines[0], lines[1]
    return {f"TcpExt.{n}": int(v) for n, v in zip(names[1:], values[1:])}


def check_burst(uname, way, label, text, rows, samples, stats=None, skipped=0, drop_rows=True):
    """One burst's rows and count against the kernel's counters (STAT: the
    VM's own, nothing else runs; or @stats, those around both parallel
    bursts, checked by the caller) and the listener's d (LISTENER:
    SO_MEMINFO, what ss -tlm shows); returns the drop rows' figures. The
    kernel skipped @skipped runs of the tracer's programs and counted them
    (recursion_misses, see check_rows_or_skipped()): at most that many rows
    are missing. @drop_rows: the tracer said it can show drops as rows."""
    laddr, cookies = BURSTS[label]
    ready, accepts, _ = parse_peer(text)
    alone = stats is None
    stats = peer_stats(text) if alone else stats
    (listener,) = peer_lines(text, "LISTENER")
    ld = stats.get("TcpExt.ListenDrops", 0)
    mine = [o for o in rows if o["lport"] == ready["port"]]
    drops = [o for o in mine if o["event"] == "drop"]
    got = {(o["raddr"], o["rport"]) for o in mine if o["event"] == "accept"}
    want = {(a["raddr"], int(a["rport"])) for a in accepts}
    assert got <= want and len(want - got) <= skipped and len(accepts) > 0, (label, want - got)
    d = listener["drops"]
    assert d > 0 and (not alone or d >= ld > 0), (uname, way, label, d, stats)
    assert one(samples, "tcpaccept_listen_drops_total", lport=ready["port"], laddr=laddr) == d, \
        (uname, way, label)
    clients = {(c["raddr"], c["rport"]) for c in peer_lines(text, "CLIENT")}
    for o in drops:
        assert (o["raddr"], o["rport"]) in clients and o["laddr"] == laddr, (label, o)
        # No task: the namespaces are null (the cgroup is the listener's).
        assert (o["tid"], o["nspid"], o["pidns"], o["mntns"]) == (None,) * 4, (label, o)
    reasons = {r: sum(o["reason"] == r for o in drops)
               for r in ("accept_queue_full", "syn_queue_full", "other", "cookie_ack_dropped")}
    lo, rqfd = stats.get("TcpExt.ListenOverflows", 0), stats.get("TcpExt.TCPReqQFullDrop", 0)
    if way != "tracepoint" and not drop_rows:
        assert not drops, (uname, way, label, drops[:2])
    elif way != "tracepoint" and alone:
        # Every drop, as it happens, with the reason the kernel counted.
        assert ld - skipped <= len(drops) <= ld, (uname, way, label, len(drops), stats)
        assert lo - skipped <= reasons["accept_queue_full"] <= lo, (uname, way, label, reasons)
        assert rqfd - skipped <= reasons["syn_queue_full"] <= rqfd, (uname, way, label, reasons)
    elif way == "tracepoint":
        # The final ACKs kfree_skb names: a cookie's from 6.11 (rx_sk),
        # a request socket's from 6.15 (TCP_LISTEN_OVERFLOW).
        assert len(drops) <= ld and all(o["stage"] == "ack" for o in drops), (uname, label)
        version = kernel_version(uname)
        if version < (6, 11):
            assert not drops, (uname, label, drops[:2])
        elif cookies:
            assert reasons["cookie_ack_dropped"] > 0, (uname, label, reasons)
        if label == "lazy" and version >= (6, 15):
            assert reasons["accept_queue_full"] > 0, (uname, label, reasons)
    return {"ListenDrops": ld, "ListenOverflows": stats.get("TcpExt.ListenOverflows", 0),
            "TCPReqQFullDrop": stats.get("TcpExt.TCPReqQFullDrop", 0), "d": d,
            "rows": len(drops), "count": d, **{k: v for k, v in reasons.items() if v}}


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_failed(kernel, way):
    """-a -j --metrics: drops (rows where the way sees them, every
    listener's count exact, two listeners at once each its own), accept()
    errors (EMFILE: each failed call; a UNIX listener's and EAGAIN: none),
    accepts still exact."""
    uname, case = get_case(kernel, way, "failed")
    check_way_line(case, way, uname)
    skipped = case.misses
    # fexit and kprobe tell a drop's reason by this CPU's counters, found
    # without kallsyms' __per_cpu_offset (Debian's arm64 6.1 lists none):
    # every kernel gets rows.
    drop_rows = "tcpaccept: drops: no rows" not in case.err
    assert drop_rows, (uname, way, case.ksyms, case.err)
    assert all(loaded(case.progs, (p,)) for p in SYN_PROGS[way]), (uname, way, case.progs)
    rows = parse_json_lines(case.out)
    samples = parse_prom(case.metrics)
    figures, texts = {}, {label: text for label, _, text in case.peers}
    around = {k: netstat(texts["netstat-after"])[k] - netstat(texts["netstat-before"])[k]
              for k in ("TcpExt.ListenDrops", "TcpExt.ListenOverflows", "TcpExt.TCPReqQFullDrop")}
    for label, rc, text in case.peers:
        assert rc == 0, f"tcppeer {label} exited {rc}: {text}"
        if label.startswith("netstat-"):
            continue
        if label in BURSTS:
            figures[label] = check_burst(uname, way, label, text, rows, samples,
                                         around if label in PARALLEL else None, skipped,
                                         drop_rows)
            continue
        ready, _, _ = parse_peer(text)
        (failed,) = peer_lines(text, "FAILED")
        errors = [o for o in rows if o["event"] == "error" and o["pid"] == ready["pid"]]
        want = failed["count"] if failed["errno"] == "EMFILE" and label != "emfile-unix" else 0
        # io_uring's completion names its request from Linux 5.19.
        if label == "emfile-io_uring" and kernel_version(uname) < (5, 19):
            want = 0
        assert want - skipped <= len(errors) <= want, (uname, way, label, failed, errors[:2])
        assert all(o["errno"] == "EMFILE" and o["lport"] == ready["port"] for o in errors)
        # The caller's own identity (the guest has one PID namespace).
        assert all(o["nspid"] == ready["pid"] and o["mntns"] for o in errors), errors[:1]
        if errors:
            assert one(samples, "tcpaccept_accept_errors_total", errno="EMFILE",
                       lport=ready["port"]) == len(errors)
        figures[label] = {"failed": failed["count"], "rows": len(errors)}
    assert set(BURSTS) <= set(figures), figures
    # The two listeners at once: each count was its own d (check_burst);
    # together they counted every drop, and fexit and kprobe saw each.
    both = [figures[label] for label in PARALLEL]
    assert sum(f["d"] for f in both) >= around["TcpExt.ListenDrops"] > 0, (both, around)
    if way != "tracepoint" and drop_rows:
        rows_both = sum(f["rows"] for f in both)
        aqf_both = sum(f.get("accept_queue_full", 0) for f in both)
        assert 0 <= around["TcpExt.ListenDrops"] - rows_both <= skipped, (both, around)
        assert 0 <= around["TcpExt.ListenOverflows"] - aqf_both <= skipped, (both, around)
    figures["parallel-kernel"] = around
    figures["__per_cpu_offset-in-kallsyms"] = case.ksyms.get("__per_cpu_offset")
    figures["skipped-runs"] = skipped
    print(f"\nvm-failed {kernel} {uname} {way} {figures}")


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_failed_no_syscall_tracepoint(kernel, way):
    """-a -j --metrics on fexit and kprobe attach no syscall tracepoint
    (one would send every system call of the machine down the slow path),
    by the kernel's own account of the tracer's fds: kprobe's errors and
    sweep are kretprobes on __sys_accept4 and __sys_listen (fexit's are
    fexit programs, which that account does not list); the tracepoint
    way's own syscall exits are there."""
    uname, case = get_case(kernel, way, "failed")
    check_way_line(case, way, uname)
    assert case.attached, (uname, way, "tcppeer --attachments listed nothing")
    syscalls = {n for kind, n in case.attached if kind == "tracepoint" and n.startswith("sys_")}
    sweep = "read anew before each table" in case.err
    if way == "tracepoint":
        want = {"sys_exit_accept", "sys_exit_accept4"} | ({"sys_exit_listen"} if sweep else set())
        if "listening fd from sys_enter_accept" in case.err:	# no bpf_task_pt_regs()
            want |= {"sys_enter_accept", "sys_enter_accept4"}
        assert syscalls == want, (uname, way, case.attached)
        return
    assert not syscalls, (uname, way, case.attached)
    if way == "kprobe":
        kret = {n for kind, n in case.attached if kind == "kretprobe"}
        want = {"inet_csk_accept", "__sys_accept4"} | ({"__sys_listen"} if sweep else set())
        assert want <= kret, (uname, way, case.attached)
        assert ("kprobe", "__sys_accept4") in case.attached, (uname, way, case.attached)


# --- which service accepted (issue 22) -------------------------------------------

ID_A = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2"
ID_B = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
ID_C = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
# guest.sh's servers: label -> (unit, container) their directory names.
SERVICES = {"docker-systemd": (f"docker-{ID_A}.scope", ID_A),
            "systemd-service": ("nginx.service", None),
            "podman-cgroupfs": (None, ID_B),
            "none": (None, None)}


def truth(text):
    """The TRUTH line a guest.sh server printed from inside: its PID and
    namespaces there, and its cgroup."""
    line = next(l for l in text.splitlines() if l.startswith("TRUTH "))
    got = dict(kv.split("=", 1) for kv in line.split()[1:])
    return {k: v if k == "cgroup" else int(v) for k, v in got.items()}


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_services(kernel, way):
    """-j's cgroup, unit and container of directories named as a systemd
    unit and as containers (one made before tcpaccept started, the rest
    after), and nspid, pidns, mntns, netns: each what the server saw from
    inside, two of them in PID and mount namespaces of their own."""
    uname, case = get_case(kernel, way, "services")
    objs = parse_json_lines(case.out)
    texts = {label: text for label, rc, text in case.peers}
    p = peers(case)
    for label, (unit, container) in SERVICES.items():
        ready, accepts, _ = p[label]
        t = truth(texts[label])
        mine = [o for o in objs if o["lport"] == ready["port"]]
        assert sorted((o["raddr"], o["rport"]) for o in mine) == \
            sorted((a["raddr"], int(a["rport"])) for a in accepts), (uname, way, label, mine)
        for o in mine:
            assert (o["cgroup"], o["unit"], o["container"]) == (t["cgroup"], unit, container), \
                (uname, way, label, o)
            assert {k: o[k] for k in ("nspid", "pidns", "mntns", "netns")} == \
                {k: t[k] for k in ("nspid", "pidns", "mntns", "netns")}, (uname, way, label, o, t)
        assert t["nspid"] == ready["pid"], (label, t, ready)
    assert len(objs) == 5, case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_container_filter_and_column(kernel, way):
    """--container with a prefix of a container running before the start
    and of one made after; one nested in the first matches through it; a
    unit's server and a plain one do not. SERVICE names each."""
    uname, case = get_case(kernel, way, "container-filter")
    rows = parse_rows(case.out, service=True)
    p = peers(case)
    want = {"docker-systemd": ID_A, "kubepods-cgroupfs": ID_B, "crio-nested": ID_C}
    for label, (ready, accepts, _) in p.items():
        mine = [r for r in rows if r["pid"] == ready["pid"]]
        if label in want:
            check_rows(rows, accepts, ready["pid"])
            assert {r["service"] for r in mine} == {want[label][:12]}, (uname, way, label, mine)
        else:
            assert not mine, (uname, way, label, mine)
    assert len(rows) == 4, case.out


@pytest.mark.parametrize("kernel,way", KERNEL_WAYS, ids=[kernel_way_id(kw) for kw in KERNEL_WAYS])
def test_tracer_in_a_pid_namespace(kernel, way):
    """tcpaccept under unshare -p -f --mount-proc: a server entered into
    its namespace shows with the PID it has there; one outside does not,
    and is counted."""
    uname, case = get_case(kernel, way, "pidns")
    objs = parse_json_lines(case.out)
    p = peers(case)
    ready, accepts, _ = p["inside"]
    check_json(objs, accepts, ready["pid"], identity={"nspid": ready["pid"]})
    assert len(objs) == 2 and ready["pid"] < 10, (uname, way, case.out)
    m = re.search(r"^tcpaccept: (\d+) accept\(\) calls? of processes outside this PID namespace",
                  case.err, re.M)
    assert m and int(m.group(1)) >= len(p["outside"][1]) == 3, (uname, way, case.err)
