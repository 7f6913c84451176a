#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""BPF run time per accept of several tracer command lines, side by side:
each round runs every configuration once, in a rotated order, under an IPv4
RST flood (bench/flood.c) with kernel.bpf_stats_enabled=1 (restored after),
and reads run_time_ns / run_cnt of the accept program from
/proc/TRACER/fdinfo: the first of ACCEPT_PROGS (bpftool names them) that
ran, else the program that ran most (with -q or --metrics the handshake
tracepoint runs more often than the accept program). Prints the
median over rounds, the spread, and the ratio to the first configuration
(give the floor first). Run from the source tree as root, after make and
bench/run.sh built .output/bench/flood:

  bench/bpfcost.py [--rounds N] [--seconds S] 'LABEL=CMD ARGS' ...
  bench/bpfcost.py floor="./tcpaccept -p $$" print='./tcpaccept' count='./tcpaccept -c'

Each CMD gets -v and is started before the flood; the flood starts once
the tracer reported its way in. Output to /dev/null. --cgroup=DIR runs
every flood in that cgroup v2 directory (made if missing, removed after
if this made it), as a container's or a unit's server runs: for -S,
--container and --metrics-labels. Figures: bench/README.md.

--load syn: SYNs against a full listener instead (bench/synflood.c: each
dropped at the SYN), figures per SYN; --all: every program the tracer
holds, added up (-x runs more than one per accept), not the accept one.

  bench/bpfcost.py --all --load syn floor="./tcpaccept -p $$" failed='./tcpaccept -x'"""
import argparse, json, os, shlex, statistics, subprocess, sys

FLOOD = ".output/bench/flood"
SYNFLOOD = ".output/bench/synflood"


# The programs that run once per accept, on each way in, first the one
# that sees the flood's accept4() (tp_exit_accept sees other processes'
# accept() too).
ACCEPT_PROGS = ("tp_exit_accept4", "tp_exit_accept", "fexit_accept", "fexit_accept_pre610",
                "kretprobe_accept")


def prog_name(prog_id):
    res = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        return json.loads(res.stdout)["name"]
    except (ValueError, KeyError):
        return ""


def prog_stats(pid):
    res = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if "prog_id" in info and "run_cnt" in info:
            res[int(info["prog_id"])] = (int(info["run_time_ns"]), int(info["run_cnt"]))
    return res


def make_dirs(path):
    """Makes @path and its missing parents; the ones it made, outermost first."""
    made, cur = [], "/"
    for part in path.strip("/").split("/"):
        cur = os.path.join(cur, part)
        if not os.path.isdir(cur):
            os.mkdir(cur)
            made.append(cur)
    return made


def in_cgroup(cmd, cgroup):
    if not cgroup:
        return cmd
    # Moved in before it makes its sockets: a socket keeps its cgroup.
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, *cmd]


def load(kind, seconds, clients, cgroup):
    """Runs the load; the number of events it made (accepts or SYNs)."""
    if kind == "syn":
        cmd, key = [SYNFLOOD, "-d", str(seconds)], "syns"
    else:
        cmd, key = [FLOOD, "-m", "rst", "-4", "-d", str(seconds), "-c", str(clients)], "accepts"
    out = subprocess.run(in_cgroup(cmd, cgroup), stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return int(dict(kv.split("=", 1) for kv in out.split())[key])


def one_run(cmd, seconds, clients, cgroup=None, kind="accept", all_progs=False):
    p = subprocess.Popen(cmd + ["-v"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        buf = b""
        while b"way in" not in buf:
            chunk = p.stderr.read1(65536)
            if not chunk:
                raise RuntimeError(f"{cmd}: exited before attaching: {buf.decode(errors='replace')}")
            buf += chunk
        before = prog_stats(p.pid)
        events = load(kind, seconds, clients, cgroup)
        after = prog_stats(p.pid)
        # While the programs are loaded: bpftool finds them by ID.
        names = {k: prog_name(k) for k in after}
    finally:
        p.send_signal(2)
        err = p.communicate()[1].decode(errors="replace")
    if "lost" in err and "lost 0" not in err:
        print(f"  warning: {cmd}: {err.strip()}", file=sys.stderr)
    delta = {k: (v[0] - before.get(k, (0, 0))[0], v[1] - before.get(k, (0, 0))[1]) for k, v in after.items()}
    if all_progs:
        ns, n = sum(v[0] for v in delta.values()), sum(v[1] for v in delta.values())
        return ns / max(events, 1), n, events
    named = sorted((ACCEPT_PROGS.index(n), k) for k, n in names.items()
                   if n in ACCEPT_PROGS and delta[k][1])
    best = named[0][1] if named else max(delta, key=lambda k: delta[k][1])
    ns, n = delta[best]
    return ns / max(n, 1), n, events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--cgroup", help="run the floods in this cgroup v2 directory")
    ap.add_argument("--load", choices=("accept", "syn"), default="accept")
    ap.add_argument("--all", action="store_true", help="every program, per event of the load")
    ap.add_argument("configs", nargs="+", metavar="LABEL=CMD")
    args = ap.parse_args()
    configs = [(c.split("=", 1)[0], shlex.split(c.split("=", 1)[1])) for c in args.configs]
    names = [n for n, _ in configs]
    got = {n: [] for n in names}
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        prev = f.read().strip()
    made = make_dirs(args.cgroup) if args.cgroup else []
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for rnd in range(args.rounds):
            order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
            for name, cmd in order:
                ns, n, events = one_run(cmd, args.seconds, args.clients, args.cgroup, args.load,
                                        args.all)
                got[name].append(ns)
                print(f"  round {rnd} {name:<20} {ns:6.0f} ns x {n:,} runs ({events:,} {args.load}s)",
                      file=sys.stderr)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(prev)
        for d in reversed(made):
            os.rmdir(d)
    floor = statistics.median(got[names[0]])
    unit = "ns/" + args.load
    print(f"{'config':<20} {unit:>9} {'min-max':>11} {'x ' + names[0]:>10}")
    for name in names:
        med = statistics.median(got[name])
        ratio = f"{med / floor:10.2f}" if floor > 0 else f"{'-':>10}"
        print(f"{name:<20} {med:9.0f} {min(got[name]):5.0f}-{max(got[name]):<5.0f} {ratio}")


if __name__ == "__main__":
    main()
