#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""BPF run time per accept of each configuration (`-q`, `-c -q`, --metrics
against plain rows and -c), from the programs' run_time_ns/run_cnt in
/proc/PID/fdinfo with kernel.bpf_stats_enabled=1 (restored after), over a
3000-accept RST flood of tcppeer. Run from the source tree as root:
bench/stats_cost.py. Figures: bench/README.md."""
import os, subprocess, time, sys
prev = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
def progs(pid):
    res = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try: info = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError: continue
        f = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
        if "prog_id" in f and "run_cnt" in f and "link_id" not in f:
            res[int(f["prog_id"])] = (int(f["run_time_ns"]), int(f["run_cnt"]))
    return res
import tempfile
PROM = os.path.join(tempfile.mkdtemp(prefix="tcpaccept-cost-"), "m.prom")
modes = {"rows": [], "-c": ["-c"], "--metrics": [f"--metrics={PROM}"],
         "-c -q": ["-c", "-q"], "-q rows": ["-q"]}
try:
    open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")
    for rnd in range(3):
        for name, args in modes.items():
            p = subprocess.Popen(["./tcpaccept", "-v", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            buf = b""
            while b"way in" not in buf:
                buf += p.stderr.read1(65536)
            before = progs(p.pid)
            subprocess.run(["./.output/tcppeer", "--count", "3000", "--rst"], stdout=subprocess.DEVNULL, check=True)
            after = progs(p.pid)
            p.send_signal(2); p.communicate()
            # The accept program ran once per accept; sock_set_state
            # (-q, -c -q, --metrics) six times per connection.
            best = min(after, key=lambda k: abs(after[k][1] - before.get(k, (0, 0))[1] - 3000))
            dt = after[best][0] - before[best][0]; dn = after[best][1] - before[best][1]
            sock = [k for k in after if k != best and after[k][1] - before.get(k,(0,0))[1] > 1000]
            extra = ""
            for k in sock:
                extra += f" +sock_set_state {(after[k][0]-before[k][0])/max(1,after[k][1]-before[k][1]):.0f} ns/run"
            print(f"round {rnd} {name:10s} accept program {dt/dn:6.0f} ns/run over {dn} runs{extra}")
finally:
    open("/proc/sys/kernel/bpf_stats_enabled", "w").write(prev)
