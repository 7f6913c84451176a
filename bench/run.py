#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Benchmark of ./tcpaccept against an accept() flood (bench/flood) and
against the same job done by bpftrace (bench/tcpaccept.bt).

Run as root from the repository through bench/run.sh (it builds what this
needs). Python standard library only: it runs with Debian's /usr/bin/python3.

For each flood mode (rst, graceful) the configurations untraced, tcpaccept,
bpftrace and (if ./tcpaccept -h lists it) tcpaccept -c run in alternating
rounds; each traced round is compared with the untraced run of the same
round. --services adds -j, -S and --container (matching the flood, and
not), with the floods run in a cgroup named as a Docker container's, and
--baseline=BINARY the same -j of an earlier build beside them. See
bench/README.md for what every figure means.
"""
import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TCPACCEPT_BUILT = os.path.join(ROOT, "tcpaccept")
TCPACCEPT = TCPACCEPT_BUILT	# a private copy once main() starts
FLOOD = os.path.join(ROOT, ".output", "bench", "flood")
ACCEPTLOOP = os.path.join(ROOT, ".output", "bench", "acceptloop")
SYSCALLTAX = os.path.join(ROOT, ".output", "bench", "syscalltax")
ROWCOST = os.path.join(ROOT, ".output", "bench", "rowcost")
# The start-up floor: a minimal CO-RE loader (bench/floorload.c, `make bench`).
FLOORLOAD = os.path.join(ROOT, ".output", "bench", "floorload")
BT_SCRIPT = os.path.join(HERE, "tcpaccept.bt")
BPFTRACE = shutil.which("bpftrace") or "/usr/bin/bpftrace"
BASELINE = None		# --baseline: an earlier tcpaccept, for its -j
# --services: the floods run in a cgroup named as a Docker container's
# (the systemd driver), under a slice of the bench's own.
SERVICE_ID = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2"
FLOOD_CGROUP = None

ATTACH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def log(msg=""):
    print(msg, flush=True)


def proc_status(pid):
    """VmRSS and VmHWM in KiB, and CPU seconds (user + system) of pid."""
    out = {"rss": None, "hwm": None, "cpu": None}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm"] = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime, stime are fields 14, 15.
        out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return out


def in_epoll_wait(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip() == "do_epoll_wait"
    except OSError:
        return False


def other_tracers():
    """Tracer processes this bench did not start (it has none running when
    this is called): their BPF programs run on every accept too."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("tcpaccept", "bpftrace"):
            found.append((int(d), comm))
    return sorted(found)


def warn_other_tracers(when):
    found = other_tracers()
    if found:
        log(f"WARNING ({when}): {len(found)} tracer process(es) not started by this bench are running "
            f"({', '.join(f'{c} {p}' for p, c in found[:8])}{' ...' if len(found) > 8 else ''}); "
            "their programs run on every accept in every configuration, 'untraced' included")
    return len(found)


class Tracer:
    """One tracer process writing to a file, started and stopped like a user
    would: `cmd > out 2> err`, then Ctrl-C."""

    def __init__(self, name, cmd, workdir, tag):
        self.name = name
        self.cmd = cmd
        self.out_path = os.path.join(workdir, f"{tag}.out")
        self.err_path = os.path.join(workdir, f"{tag}.err")
        self.proc = None

    def start(self):
        """Starts the tracer; returns when its header is in the output file
        (both tools print it only after their probes are attached)."""
        out = open(self.out_path, "wb")
        err = open(self.err_path, "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=err, cwd=ROOT)
        out.close()
        err.close()
        while True:
            with open(self.out_path, "rb") as f:
                head = f.read(4096)
            if head.startswith(b"PID ") or b"\nPID " in head:
                break
            if self.name in NO_HEADER and in_epoll_wait(self.proc.pid):
                break	# -c, -j print no header: attached once it waits for events
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before attaching: "
                                   + open(self.err_path, errors="replace").read()[-800:])
            if time.monotonic() - t0 > ATTACH_TIMEOUT_S:
                self.stop()
                raise RuntimeError(f"{self.name} did not attach within {ATTACH_TIMEOUT_S:.0f} s")
            time.sleep(0.005)
        self.attached_s = time.monotonic() - t0
        self.at_attach = proc_status(self.proc.pid)

    def sample(self):
        return proc_status(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{self.name} ignored SIGINT for {STOP_TIMEOUT_S:.0f} s")
        return self.proc.returncode


def busy_cpu_s():
    """CPU seconds the whole machine spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def run_flood(mode, family, seconds, clients, truth_path):
    """Runs one flood; returns its key=value report, plus the CPU seconds the
    flood itself used (rusage) and the machine's busy CPU seconds meanwhile."""
    cmd = [FLOOD, "-m", mode, f"-{family}", "-d", str(seconds), "-c", str(clients), "-o", truth_path]
    if FLOOD_CGROUP:
        # Moved in before it makes its sockets: a socket keeps its cgroup.
        cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', FLOOD_CGROUP, *cmd]
    busy0 = busy_cpu_s()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"flood failed ({p.returncode}): {err.decode(errors='replace').strip()}")
    kv = dict(item.split("=", 1) for item in out.decode().split())
    kv["flood_cpu"] = ru.ru_utime + ru.ru_stime
    kv["busy_cpu"] = busy_cpu_s() - busy0
    kv["wall"] = wall
    return kv


def check_lines(out_path, flood, truth_path):
    """Counts the flood server's lines in a tracer's output and how many have
    every field right: PID, COMM, IP and a (RADDR RPORT LADDR LPORT) that a
    client really had (each truth entry is used at most once)."""
    with open(truth_path) as f:
        truth = collections.Counter(line.rstrip("\n") for line in f)
    pid, comm, ip = flood["pid"], flood["comm"], flood["ip"]
    printed = right = other = 0
    with open(out_path, errors="replace") as f:
        for line in f:
            fields = json_fields(line) if line.startswith("{") else line.split()
            if fields and fields[-1] == SERVICE_ID[:12]:
                fields.pop()	# -S: the SERVICE column
            if len(fields) != 7 or not fields[0].isdigit():
                continue
            if fields[0] != pid:
                other += 1	# another process's accept (or a wrong PID)
                continue
            printed += 1
            key = " ".join(fields[3:])
            if fields[1] == comm and fields[2] == ip and truth[key] > 0:
                truth[key] -= 1
                right += 1
    return printed, right, other


def json_fields(line):
    """A -j row as the column fields check_lines() reads; [] if its
    identity is not the flood's cgroup's (--services)."""
    o = json.loads(line)
    # An earlier build (--baseline) has no container key.
    if FLOOD_CGROUP and o.get("container", SERVICE_ID) != SERVICE_ID:
        return []
    return [str(o["pid"]), o["comm"], str(o["ip"]), o["raddr"], str(o["rport"]), o["laddr"],
            str(o["lport"])]


def check_counts(out_path, flood):
    """For a count table (tcpaccept -c): the accepts counted for the flood
    server's PID, and those on rows whose PID, COMM, IP, LADDR and LPORT are
    all right. Columns are found by the header's names; the count is the
    last column. (None, None) if the table has another shape."""
    laddr = "127.0.0.1" if flood["ip"] == "4" else "::1"
    want = {"PID": flood["pid"], "COMM": flood["comm"], "IP": flood["ip"], "LADDR": laddr, "LPORT": flood["port"]}
    cols = None
    counted = right = 0
    with open(out_path, errors="replace") as f:
        for line in f:
            fields = line.split()
            if fields[:1] == ["PID"] and all(c in fields for c in want):
                cols = fields
                continue
            if not cols or len(fields) != len(cols) or not fields[-1].isdigit():
                continue
            row = dict(zip(cols, fields))
            if row["PID"] != flood["pid"]:
                continue
            counted += int(fields[-1])
            if all(row[c] == v for c, v in want.items()):
                right += int(fields[-1])
    return (counted, right) if cols else (None, None)


def lost_events(name, out_path, err_path):
    text = open(err_path, errors="replace").read()
    if name.startswith("tcpaccept"):
        m = re.search(r"lost (\d+) events in total", text)
        if m:
            return int(m.group(1))
        return sum(int(n) for n in re.findall(r"lost (\d+) events", text))
    text += open(out_path, errors="replace").read()
    return sum(int(n) for n in re.findall(r"Lost (\d+) events", text))


def has_count_mode():
    res = subprocess.run([TCPACCEPT, "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return re.search(r"^\s*-c[,\s]", res.stdout, re.M) is not None


# "floor": the syscall tracepoints attached, with a program that rejects
# every accept at its first instruction (-p of this script, which never
# accepts; -p refuses a PID that is no process). Any syscall tracepoint
# sends every syscall of every task through the kernel's slow path: that
# cost, not tcpaccept's work, is the floor for the tracepoint way in
# (measured: within the noise of untraced).
FLOOR_PID = str(os.getpid())


# "resolve only": tcpaccept filtering on the other family (-6 on IPv4
# traffic, -4 on IPv6): it finds the accepted socket from its fd, reads its
# local port and family and stops. Any tool on these tracepoints that names the
# accepted socket does at least this much in the accepting thread: it is the
# true limit for -c, which adds only a hash-map increment.
def tracer_cmd(config, family=4):
    return {
        "resolve only": [TCPACCEPT, "-6" if family == 4 else "-4"],
        "floor": [TCPACCEPT, "-p", FLOOR_PID],
        "tcpaccept": [TCPACCEPT],
        "tcpaccept -c": [TCPACCEPT, "-c"],
        "bpftrace": [BPFTRACE, BT_SCRIPT],
        # --services: which service accepted.
        "tcpaccept -j": [TCPACCEPT, "-j"],
        "baseline -j": [BASELINE, "-j"],
        "tcpaccept -S": [TCPACCEPT, "-S"],
        "container in": [TCPACCEPT, f"--container={SERVICE_ID[:12]}"],
        "container out": [TCPACCEPT, "--container=0123456789ab"],
    }[config]


# The configurations that print no header: attached once in epoll_wait.
NO_HEADER = ("tcpaccept -c", "tcpaccept -j", "baseline -j")
# --services' configurations; "container out" prints nothing of the flood.
SERVICE_CONFIGS = ["tcpaccept -j", "tcpaccept -S", "container in", "container out"]


def one_run(config, mode, family, args, workdir, tag):
    truth = os.path.join(workdir, f"{tag}.truth")
    res = {"config": config, "mode": mode, "family": family}
    tracer = None
    if config != "untraced":
        tracer = Tracer(config, tracer_cmd(config, family), workdir, tag)
        tracer.start()
        res["attach_ms"] = tracer.attached_s * 1000
    # VmHWM is reached at start-up, before the header: the peak under
    # load is the largest VmRSS sampled every 50 ms during the flood.
    done = threading.Event()
    peak = [0]

    def sample_rss():
        while not done.wait(0.05):
            peak[0] = max(peak[0], proc_status(tracer.proc.pid)["rss"] or 0)

    sampler = threading.Thread(target=sample_rss) if tracer else None
    if sampler:
        sampler.start()
    try:
        flood = run_flood(mode, family, args.seconds, args.clients[mode], truth)
    finally:
        if tracer:
            time.sleep(0.3)	# let the reader catch up before Ctrl-C
            done.set()
            sampler.join()
            st = tracer.sample()
            rc = tracer.stop()
    res.update(rate=float(flood["rate"]), accepts=int(flood["accepts"]),
               connect_errors=int(flood["connect_errors"]),
               srv_us=float(flood["srv_cpu_us"]), all_us=float(flood["cpu_us"]))
    tracer_cpu = 0.0
    if tracer:
        tracer_cpu = (st["cpu"] or 0) - (tracer.at_attach["cpu"] or 0)
        res.update(rc=rc, hwm=st["hwm"], rss=max(peak[0], st["rss"] or 0), cpu=tracer_cpu,
                   lost=lost_events(config, tracer.out_path, tracer.err_path))
        if config == "tcpaccept -c":
            res["printed"], res["right"] = check_counts(tracer.out_path, flood)
            res["counts"] = True
            with open(tracer.out_path, errors="replace") as f:
                res["table"] = f.read()
            res["flood_pid"] = flood["pid"]
        else:
            res["printed"], res["right"], res["other"] = check_lines(tracer.out_path, flood, truth)
            if config in ("floor", "resolve only", "container out"):
                assert res["printed"] == 0, f"the {config} configuration printed accepts"
                res["printed"] = res["right"] = None
        for p in (tracer.out_path, tracer.err_path):
            os.unlink(p)
    os.unlink(truth)
    # Everything else the machine ran meanwhile (other users' jobs, kernel
    # threads), in CPUs: a noise gauge. Approximate: the tracer's CPU is
    # sampled 0.3 s after the flood ends.
    res["bg"] = max(0.0, (flood["busy_cpu"] - flood["flood_cpu"] - tracer_cpu) / flood["wall"])
    return res


def bpf_run_ns(pid):
    """run_time_ns / run_cnt of each BPF program process @pid holds that
    ran, by program name: from /proc/PID/fdinfo (bpftool cannot tell the
    holder here, its pid iterator is a tracing program lockdown refuses)."""
    out = {}
    fddir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if "prog_id" not in info or int(info.get("run_cnt", "0")) == 0:
            continue
        prog_id = info["prog_id"].strip()
        res = subprocess.run(["bpftool", "-j", "prog", "show", "id", prog_id], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        try:
            name = json.loads(res.stdout)["name"]
        except (ValueError, KeyError):
            name = f"prog {prog_id}"
        out[name] = (int(info["run_time_ns"]) / int(info["run_cnt"]), int(info["run_cnt"]))
    return out


# The kernel side's own cost, per configuration: an IPv4 RST flood with
# kernel.bpf_stats_enabled=1 (which itself adds two clock reads per run, so
# these runs are not part of the rate rounds). "resolve only" is
# tcpaccept -6 on IPv4 traffic: it finds the accepted socket from its fd,
# reads its port and family and stops, the least any tool on these
# tracepoints must do.
# The tcpaccept configurations of the two passes below, by cost.
PASS_CONFIGS = ["floor", "resolve only", "tcpaccept -c", "tcpaccept"]
# The BPF run time pass has --services' too (the other passes run outside
# the flood's cgroup, where they would mean nothing).
STATS_CONFIGS = PASS_CONFIGS + ["container out", "baseline -j", "tcpaccept -j", "tcpaccept -S",
                                "container in"]


def remove_files(workdir, *names):
    for name in names:
        try:
            os.unlink(os.path.join(workdir, name))
        except OSError:
            pass


def bpf_stats_pass(configs, args, workdir):
    if not shutil.which("bpftool"):
        log("\nBPF run time per accept: not measured (no bpftool)")
        return
    log(f"\nBPF run time per accept (kernel.bpf_stats_enabled=1, rst ip4, {args.seconds:g} s each, "
        f"{args.stats_rounds} rounds in rotated order): run_time_ns / run_cnt of the syscall exit program")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        before = f.read().strip()
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        names = [c for c in STATS_CONFIGS if c in configs]
        got = {c: [] for c in names}
        for rnd in range(args.stats_rounds):
            for config in names[rnd % len(names):] + names[:rnd % len(names)]:
                tracer = Tracer(config, tracer_cmd(config, 4), workdir, "bpfstats")
                tracer.start()
                try:
                    flood = run_flood("rst", 4, args.seconds, args.clients["rst"], os.path.join(workdir, "bpfstats.truth"))
                    time.sleep(0.3)
                    runs = bpf_run_ns(tracer.proc.pid)
                finally:
                    tracer.stop()
                exit_prog = {k: v for k, v in runs.items() if k.startswith("tp_exit_accept")}
                desc = ", ".join(f"{k} {ns:.0f} ns x {n:,}" for k, (ns, n) in sorted(exit_prog.items())) or "no run counted"
                log(f"  round {rnd} {config:<13} {desc}  (flood {float(flood['rate']):,.0f}/s)")
                if "tp_exit_accept4" in exit_prog:
                    got[config].append(exit_prog["tp_exit_accept4"][0])
        floor = statistics.median(got["floor"]) if got.get("floor") else None
        log(f"  {'config':<13} {'ns/accept':>9} {'min-max':>11} {'x floor':>8}   (tp_exit_accept4, median over rounds)")
        for config in names:
            if not got[config]:
                continue
            med = statistics.median(got[config])
            ratio = f"{med / floor:8.2f}" if floor else f"{'-':>8}"
            log(f"  {config:<13} {med:9.0f} {min(got[config]):5.0f}-{max(got[config]):<5.0f} {ratio}")
        remove_files(workdir, "bpfstats.out", "bpfstats.err", "bpfstats.truth")
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(before)


def rotated_runs(names, rounds, workdir, tag, cmd, key):
    """Runs @cmd once under each configuration (a tracer started first, none
    for "untraced") in @rounds rotated rounds; the float @key of its
    key=value stdout, per configuration."""
    got = {c: [] for c in names}
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for config in order:
            tracer = None
            if config != "untraced":
                tracer = Tracer(config, tracer_cmd(config, 4), workdir, tag)
                tracer.start()
            try:
                res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
            finally:
                if tracer:
                    tracer.stop()
            kv = dict(item.split("=", 1) for item in res.stdout.split())
            got[config].append(float(kv[key]))
    remove_files(workdir, f"{tag}.out", f"{tag}.err")
    return got


# What each configuration adds to one accept() in the accepting thread,
# measured where nothing else competes for the CPU: bench/acceptloop (one
# thread connects to itself, accepts, closes), many short alternating runs.
def loop_pass(configs, rounds, workdir):
    names = ["untraced"] + [c for c in PASS_CONFIGS if c in configs]
    log(f"\n== in-thread cost: bench/acceptloop, {rounds} rounds x {len(names)} configurations, 1 s each ==")
    log("one thread: socket, connect to itself, accept4, close both; CPU ns per iteration (thread CPU time)")
    ns = rotated_runs(names, rounds, workdir, "loop", [ACCEPTLOOP, "-d", "1"], "cpu_ns_per_accept")
    log(f"{'config':<14}{'ns/accept':>10}{'added ns':>10}{'min-max added':>18}")
    base = ns["untraced"]
    for config in names:
        med = statistics.median(ns[config])
        if config == "untraced":
            log(f"{config:<14}{med:>10,.0f}")
            continue
        added = [x - b for x, b in zip(ns[config], base)]
        log(f"{config:<14}{med:>10,.0f}{statistics.median(added):>+10,.0f}"
            f"{f'{min(added):+,.0f} to {max(added):+,.0f}':>18}")


# The tax on everything else: an enabled syscall tracepoint sends every
# thread's every system call through the kernel's slow path, traced or not.
# bench/syscalltax times getppid() in batches; the fastest batch of each run
# is the figure (load elsewhere only slows a batch down), alternating rounds.
def tax_pass(configs, rounds, workdir):
    names = ["untraced"] + [c for c in PASS_CONFIGS + ["bpftrace"] if c in configs]
    log(f"\n== syscall tax: bench/syscalltax, {rounds} rounds x {len(names)} configurations, 1 s each ==")
    log("ns per getppid() in a tight loop, fastest batch of 10,000 calls; median over rounds")
    ns = rotated_runs(names, rounds, workdir, "tax", [SYSCALLTAX, "-d", "1"], "ns_per_call_min")
    log(f"{'config':<14}{'ns/call':>9}{'added ns':>10}{'ratio':>7}")
    base = statistics.median(ns["untraced"])
    for config in names:
        med = statistics.median(ns[config])
        added = "" if config == "untraced" else f"{med - base:>+10.1f}{med / base:>7.2f}"
        log(f"{config:<14}{med:>9.1f}{added}")


def fmt_run(r):
    s = (f"  {r['mode']:<8} ip{r['family']} {r['config']:<13} rate {r['rate']:>9,.0f}/s  "
         f"server {r['srv_us']:.2f} us/accept  accepts {r['accepts']:>8,}")
    if r["config"] == "untraced":
        return s.replace(f"  accepts", f"  bg {r['bg']:.2f} CPU  accepts")
    s = s.replace(f"  accepts", f"  bg {r['bg']:.2f} CPU  accepts")
    if r.get("printed") is not None:
        what = "counted" if r.get("counts") else "printed"
        s += f"  {what} {r['printed']:>8,}  right {r['right']:>8,}"
        if r.get("other"):
            s += f"  (+{r['other']} other-pid lines)"
    s += f"  lost {r['lost']:,}  tracer CPU {r['cpu']:.2f} s  RSS {r['rss']:,} KiB (HWM {r['hwm']:,})"
    if r.get("rc"):
        s += f"  exit {r['rc']}"
    return s


def measure_startup(name, cmd, reps):
    """exec -> header on stdout (a pipe), and idle RSS 0.5 s later. For
    bpftrace also exec -> its 'Attaching N probes...' line."""
    rows = []
    for _ in range(reps):
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
        t_attaching = t_header = None
        try:
            for line in p.stdout:
                now = time.monotonic() - t0
                if line.startswith(b"Attaching") and t_attaching is None:
                    t_attaching = now
                if line.startswith(b"PID "):
                    t_header = now
                    break
            time.sleep(0.5)
            st = proc_status(p.pid)
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.communicate(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
        if t_header is None:
            raise RuntimeError(f"{name}: no header line")
        rows.append((t_header * 1000, (t_attaching or 0) * 1000, st["rss"], st["hwm"]))
    return {
        "header_ms": statistics.median(r[0] for r in rows),
        "header_ms_all": [r[0] for r in rows],
        "attaching_ms": statistics.median(r[1] for r in rows),
        "rss": int(statistics.median(r[2] for r in rows)),
        "hwm": max(r[3] for r in rows),
    }


def startup_beside_floor(reps):
    """tcpaccept, the floor loader and the floor loader relocating
    tcpaccept's kernel types (floorload --types) started in turn, @reps times
    each, so that all see the same machine; what measure_startup() gives for
    each, and each one's ratio to the floor run by run."""
    cmds = {"tcpaccept": [TCPACCEPT], "floor loader": [FLOORLOAD],
            "floor, tcpaccept's types": [FLOORLOAD, "--types"]}
    runs = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            runs[name].append(measure_startup(name, cmd, 1))
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "header_ms": statistics.median(r["header_ms"] for r in rs),
            "header_ms_all": [r["header_ms"] for r in rs],
            "rss": int(statistics.median(r["rss"] for r in rs)),
            "hwm": max(r["hwm"] for r in rs),
        }

    def ratios(a, b):
        rs = [x["header_ms"] / y["header_ms"] for x, y in zip(runs[a], runs[b])]
        return statistics.median(rs), (min(rs), max(rs))
    out["ratio"], out["ratio_range"] = ratios("tcpaccept", "floor loader")
    out["types_ratio"], out["types_ratio_range"] = ratios("floor, tcpaccept's types", "floor loader")
    out["vs_types"], out["vs_types_range"] = ratios("tcpaccept", "floor, tcpaccept's types")
    return out


def sizes(workdir):
    out = {"tcpaccept": os.path.getsize(TCPACCEPT)}
    stripped = os.path.join(workdir, "tcpaccept.stripped")
    subprocess.run(["strip", "-o", stripped, TCPACCEPT], check=True)
    out["tcpaccept_stripped"] = os.path.getsize(stripped)
    os.unlink(stripped)
    if not os.path.exists(BPFTRACE):
        return out
    out["bpftrace"] = os.path.getsize(os.path.realpath(BPFTRACE))
    libs = 0
    res = subprocess.run(["ldd", BPFTRACE], stdout=subprocess.PIPE, text=True)
    for m in re.finditer(r"=> (/\S+)", res.stdout):
        libs += os.path.getsize(os.path.realpath(m.group(1)))
    out["bpftrace_libs"] = libs
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="flood length of each run (default 3)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per mode (default 5)")
    ap.add_argument("--rst-clients", type=int, default=4, help="client threads in rst mode (default 4)")
    ap.add_argument("--graceful-clients", type=int, default=4, help="client threads in graceful mode (default 4)")
    ap.add_argument("--modes", default="rst,graceful")
    ap.add_argument("--no-bpftrace", action="store_true")
    ap.add_argument("--startup-reps", type=int, default=5)
    ap.add_argument("--no-bpf-stats", action="store_true", help="skip the BPF run time pass")
    ap.add_argument("--stats-rounds", type=int, default=3,
                    help="rounds of the BPF run time pass, each configuration once per round (default 3)")
    ap.add_argument("--loop-rounds", type=int, default=9,
                    help="rounds of the in-thread cost pass (bench/acceptloop; default 9, 0 skips it)")
    ap.add_argument("--tax-rounds", type=int, default=5,
                    help="rounds of the syscall tax pass (bench/syscalltax; default 5, 0 skips it)")
    ap.add_argument("--services", action="store_true",
                    help="add -j, -S and --container (in and out), the floods in a container's cgroup")
    ap.add_argument("--baseline", metavar="BINARY",
                    help="with --services: an earlier tcpaccept, whose -j runs beside this one's")
    args = ap.parse_args()
    args.clients = {"rst": args.rst_clients, "graceful": args.graceful_clients}
    modes = [m for m in args.modes.split(",") if m]

    if os.geteuid() != 0:
        sys.exit("bench: needs root (it loads BPF programs)")
    global TCPACCEPT
    for path in (TCPACCEPT_BUILT, FLOOD, ACCEPTLOOP, SYSCALLTAX):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing; run bench/run.sh (or make bench)")
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
    use_bt = not args.no_bpftrace and os.access(BPFTRACE, os.X_OK)

    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    workdir = tempfile.mkdtemp(prefix="tcpaccept-bench.", dir=base)
    t_start = time.monotonic()
    try:
        # The binary may be rebuilt while the bench runs (make in another
        # shell): every run uses this one copy.
        TCPACCEPT = os.path.join(workdir, "tcpaccept")
        shutil.copy2(TCPACCEPT_BUILT, TCPACCEPT)
        with open(TCPACCEPT, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()[:12]
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(TCPACCEPT_BUILT)))
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        version = subprocess.run([TCPACCEPT, "-V"], stdout=subprocess.PIPE, text=True).stdout.strip()
        log(f"tcpaccept bench: commit {commit or '?'}{' (+ uncommitted changes)' if dirty else ''}, {version}, "
            f"./tcpaccept built {built}, sha256 {sha}...")
        log(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, loadavg {open('/proc/loadavg').read().split()[:3]}")
        log(f"each run: flood -d {args.seconds:g}, rst with {args.rst_clients} client threads, "
            f"graceful with {args.graceful_clients}; one server thread; {args.rounds} rounds; files in {workdir}")

        n_other = warn_other_tracers("start")
        count_mode = has_count_mode()
        configs = ["untraced", "floor", "resolve only", "tcpaccept"] + (["bpftrace"] if use_bt else []) + (["tcpaccept -c"] if count_mode else [])
        if args.services:
            configs += (["baseline -j"] if args.baseline else []) + SERVICE_CONFIGS
            services_setup(args, workdir)
        if not count_mode:
            log("tcpaccept -c: not available (./tcpaccept -h lists no -c)")
        if not use_bt:
            log("bpftrace: not run")

        # --- start-up and idle memory --------------------------------------
        log("\n== start-up (exec -> header line on stdout, a pipe) and idle RSS ==")
        if not os.access(FLOORLOAD, os.X_OK):
            raise RuntimeError(f"{FLOORLOAD} is missing: run make bench")
        startup = startup_beside_floor(args.startup_reps)
        for name in ("tcpaccept", "floor loader", "floor, tcpaccept's types"):
            log(f"  {name + ':':<26} {startup[name]['header_ms']:.1f} ms median of "
                f"{[round(x, 1) for x in startup[name]['header_ms_all']]}, idle VmRSS {startup[name]['rss']:,} KiB")
        log(f"  tcpaccept / floor loader, run by run (in turn): median {startup['ratio']:.2f}, "
            f"range {startup['ratio_range'][0]:.2f}-{startup['ratio_range'][1]:.2f}")
        log(f"  floor with tcpaccept's types / floor loader: median {startup['types_ratio']:.2f}, "
            f"range {startup['types_ratio_range'][0]:.2f}-{startup['types_ratio_range'][1]:.2f}")
        log(f"  tcpaccept / floor with tcpaccept's types: median {startup['vs_types']:.2f}, "
            f"range {startup['vs_types_range'][0]:.2f}-{startup['vs_types_range'][1]:.2f}")
        if use_bt:
            startup["bpftrace"] = measure_startup("bpftrace", [BPFTRACE, BT_SCRIPT], max(1, args.startup_reps // 2 + 1))
            b = startup["bpftrace"]
            log(f"  bpftrace:  {b['header_ms']:.0f} ms to the header (BEGIN, after attach) median of "
                f"{[round(x) for x in b['header_ms_all']]}; {b['attaching_ms']:.0f} ms to 'Attaching N probes'; "
                f"idle VmRSS {b['rss']:,} KiB")

        # --- throughput rounds -----------------------------------------------
        results = []
        for mode in modes:
            log(f"\n== {mode}: {args.rounds} rounds x {len(configs)} configurations ==")
            for rnd in range(args.rounds):
                family = 6 if rnd % 2 == 1 else 4
                order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
                for config in order:
                    tag = f"{mode}-{rnd}-{config.replace(' ', '')}"
                    r = one_run(config, mode, family, args, workdir, tag)
                    r["round"] = rnd
                    results.append(r)
                    log(fmt_run(r))

        # --- summary -----------------------------------------------------------
        sz = sizes(workdir)
        log("\n== summary ==")
        log("rate: median accepts/s over rounds; ratio: median over rounds of (traced / untraced of the same round),")
        log("min-max: the lowest and highest of those per-round ratios")
        log("printed/accepts: the flood server's lines (for -c: accepts counted) over its accepts, all rounds")
        log(f"{'mode':<9}{'config':<14}{'rate/s':>9}{'ratio':>7}{'min-max':>11}{'printed/accepts':>22}{'all fields right':>18}"
            f"{'lost':>8}{'CPU s/1M':>10}{'peak RSS':>12}{'bg CPU':>8}")
        for mode in modes:
            base_by_round = {r["round"]: r["rate"] for r in results if r["mode"] == mode and r["config"] == "untraced"}
            for config in configs:
                rs = [r for r in results if r["mode"] == mode and r["config"] == config]
                if not rs:
                    continue
                rate = statistics.median(r["rate"] for r in rs)
                ratios = [r["rate"] / base_by_round[r["round"]] for r in rs]
                ratio = statistics.median(ratios)
                spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if config != "untraced" else ""
                line = f"{mode:<9}{config:<14}{rate:>9,.0f}{ratio:>7.2f}{spread:>11}"
                bg = f"{statistics.median(r['bg'] for r in rs):>8.2f}"
                if config == "untraced":
                    log(line + " " * 70 + bg)
                    continue
                acc = sum(r["accepts"] for r in rs)
                lost = sum(r["lost"] for r in rs)
                cpu_per_m = sum(r["cpu"] for r in rs) / acc * 1e6 if acc else 0
                hwm = max(r["rss"] or 0 for r in rs)
                if config in ("floor", "resolve only", "container out"):
                    pr = f"{'(prints nothing)':>22}{'-':>18}"
                elif any(r.get("printed") is None for r in rs):
                    pr = f"{'(unknown table)':>22}{'-':>18}"
                else:
                    printed = sum(r["printed"] for r in rs)
                    right = sum(r["right"] for r in rs)
                    pr = f"{printed:>10,}/{acc:<,}".rjust(22) + f"{right:>10,} ({100 * right / acc:.1f}%)".rjust(18)
                log(f"{line}{pr}{lost:>8,}{cpu_per_m:>10.2f}{hwm:>8,} KiB{bg}")
            if not count_mode:
                log(f"{mode:<9}{'tcpaccept -c':<14}  not available")
        # The flood's rate follows its one server thread: it gets about its
        # fair share of the 2 CPUs next to the client threads, so what a
        # tracer adds to each accept() in that thread sets the ratio.
        log("\nthe accepting thread (flood-srv): CPU time (user + system) per accept, median over rounds;")
        log("added: traced minus untraced of the same round; untraced/traced: the rate ratio this alone predicts")
        log(f"{'mode':<9}{'config':<14}{'us/accept':>10}{'added us':>10}{'untraced/traced':>17}{'rate ratio':>12}")
        for mode in modes:
            base = {r["round"]: r for r in results if r["mode"] == mode and r["config"] == "untraced"}
            for config in configs:
                rs = [r for r in results if r["mode"] == mode and r["config"] == config]
                if not rs:
                    continue
                srv = statistics.median(r["srv_us"] for r in rs)
                if config == "untraced":
                    log(f"{mode:<9}{config:<14}{srv:>10.2f}")
                    continue
                added = statistics.median(r["srv_us"] - base[r["round"]]["srv_us"] for r in rs)
                pred = statistics.median(base[r["round"]]["srv_us"] / r["srv_us"] for r in rs)
                ratio = statistics.median(r["rate"] / base[r["round"]]["rate"] for r in rs)
                log(f"{mode:<9}{config:<14}{srv:>10.2f}{added:>+10.2f}{pred:>17.2f}{ratio:>12.2f}")
        if args.loop_rounds > 0:
            loop_pass(configs, args.loop_rounds, workdir)
        if args.tax_rounds > 0:
            tax_pass(configs, args.tax_rounds, workdir)
        if not args.no_bpf_stats:
            bpf_stats_pass(configs, args, workdir)
        if args.services and os.access(ROWCOST, os.X_OK):
            log("\nformatting one row (bench/rowcost: format.c in a loop, the fastest of 9 batches):")
            for line in subprocess.run([ROWCOST], stdout=subprocess.PIPE, text=True).stdout.splitlines():
                log(f"  {line}")
        log("")
        t = startup["tcpaccept"]
        typed_ms = startup["floor, tcpaccept's types"]["header_ms"]
        log(f"exec->attached: tcpaccept {t['header_ms']:.1f} ms, floor loader {startup['floor loader']['header_ms']:.1f} ms "
            f"(ratio {startup['ratio']:.2f}, {startup['ratio_range'][0]:.2f}-{startup['ratio_range'][1]:.2f}); "
            f"floor with tcpaccept's types {typed_ms:.1f} ms "
            f"(tcpaccept / it {startup['vs_types']:.2f})")
        if use_bt:
            b = startup["bpftrace"]
            log(f"                bpftrace  {b['header_ms']:.0f} ms (header); {b['attaching_ms']:.0f} ms to 'Attaching N probes'")
        peak_t = max(((r["rss"] or 0) for r in results if r["config"] == "tcpaccept"), default=0)
        hwm_t = max(((r["hwm"] or 0) for r in results if r["config"] == "tcpaccept"), default=0)
        log(f"RSS (VmRSS):    tcpaccept idle {t['rss']:,} KiB, peak under load {peak_t:,} KiB; "
            f"VmHWM {hwm_t:,} KiB (reached at start-up, before the header)")
        if use_bt:
            peak_b = max((r["rss"] or 0) for r in results if r["config"] == "bpftrace")
            hwm_b = max((r["hwm"] or 0) for r in results if r["config"] == "bpftrace")
            log(f"                bpftrace  idle {b['rss']:,} KiB, peak under load {peak_b:,} KiB; VmHWM {hwm_b:,} KiB")
        log(f"size:           tcpaccept {sz['tcpaccept']:,} B (stripped {sz['tcpaccept_stripped']:,} B), static")
        if "bpftrace" in sz:
            log(f"                bpftrace  {sz['bpftrace']:,} B + {sz['bpftrace_libs']:,} B of shared libraries (ldd)")
        bad = [r for r in results if r.get("rc")]
        for r in bad:
            log(f"note: {r['config']} exited {r['rc']} in {r['mode']} round {r['round']}")
        tails = [r for r in results if r["config"] == "tcpaccept -c"]
        if tails:
            r = tails[-1]
            rows = [l for l in r["table"].splitlines() if l.startswith("PID") or l.split()[:1] == [r["flood_pid"]]]
            log("tcpaccept -c table, last run (header and the flood's rows):\n  " + "\n  ".join(rows))
        if warn_other_tracers("end") or n_other:
            log("(bench/profile.sh measures what such programs cost per accept)")
        log(f"loadavg at the end {open('/proc/loadavg').read().split()[:3]}; bench took {time.monotonic() - t_start:.0f} s")
    finally:
        services_cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            if tail.split()[0] == "cgroup2":
                return head.split()[4]
    raise RuntimeError("--services: no cgroup v2 is mounted")


def services_setup(args, workdir):
    """--services: the flood's cgroup; --baseline's binary, copied as the
    bench's own is."""
    global FLOOD_CGROUP, BASELINE
    top = os.path.join(cgroup2_mount(), f"tcpaccept-bench-{os.getpid()}.slice")
    FLOOD_CGROUP = os.path.join(top, "system.slice", f"docker-{SERVICE_ID}.scope")
    os.makedirs(FLOOD_CGROUP)
    log(f"--services: the floods run in {FLOOD_CGROUP}")
    if args.baseline:
        BASELINE = os.path.join(workdir, "tcpaccept-baseline")
        shutil.copy2(args.baseline, BASELINE)
        log(f"--baseline: {args.baseline}, {subprocess.run([BASELINE, '-V'], stdout=subprocess.PIPE, text=True).stdout.strip()}")


def services_cleanup():
    if not FLOOD_CGROUP:
        return
    top = FLOOD_CGROUP.rsplit("/system.slice/", 1)[0]
    for d in (FLOOD_CGROUP, os.path.dirname(FLOOD_CGROUP), top):
        try:
            os.rmdir(d)
        except OSError as e:
            log(f"bench: cannot remove {d}: {e}")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        sys.exit(f"bench: {e}")
