# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""End to end on this host: what a new user meets in the first five minutes
(issue 16): the set-up as root without sudo, -4 and dual-stack listeners
(--client-family), lines without trailing blanks, -p of a process that is
not there, "Try --help", -c on a terminal, -P ranges, -C on cgroup v1."""
import errno
import os
import pty
import re
import select
import signal
import subprocess
import threading
import time

from tests.lib import ROOT, TCPACCEPT
from tests.lib.checks import LOST_RE, check_rows, parse_count_table, parse_rows
from tests.lib.host import STARTED, Tracer, die_with_pytest, free_port, peer

TRY_HELP = "Try 'tcpaccept --help' for more information.\n"


def run(*args, timeout=10, **kw):
    return subprocess.run([TCPACCEPT, *args], capture_output=True, timeout=timeout, **kw)


def no_bpf_calls(tmp_path, *args):
    """Runs tcpaccept, then again under strace; returns (the first run's
    result, the bpf() and perf_event_open() calls the second made). Under
    `make sanitize` LeakSanitizer checks the first run; it cannot work in a
    traced process (tests/tests.mk), so the second runs without it."""
    res = run(*args)
    trace = tmp_path / "strace"
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    traced = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf,perf_event_open",
                             "-o", str(trace), TCPACCEPT, *args], capture_output=True,
                            timeout=10, env=env)
    assert (traced.returncode, traced.stderr) == (res.returncode, res.stderr), (res, traced)
    calls = [l for l in trace.read_text().splitlines() if "bpf(" in l or "perf_event_open(" in l]
    return res, calls


# --- 1. set-up as root, without sudo --------------------------------------------

def readme():
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def test_readme_setup_works_as_root_without_sudo():
    setup = readme().split("\n## Set-up\n")[1].split("\n## ")[0]
    block = setup.split("```\n")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert "make run" in commands and "make test" in commands, block
    assert not [c for c in commands if c.startswith("sudo")], block
    prose = " ".join(setup.split("```")[2].split())
    assert "as root, type them as they are, without `sudo`" in prose, prose
    assert "as another user, `sudo make run` and `sudo make test`" in prose, prose
    # Nowhere in the README is sudo the only way to run make.
    for line in readme().splitlines():
        assert not line.startswith("sudo make"), line


def test_make_help_says_root_or_sudo():
    res = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "help"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert any(re.match(r"make run +install missing build packages", l) for l in lines), lines
    assert any(re.match(r"make test +install what the tests need", l) for l in lines), lines
    text = " ".join(res.stdout.split())
    assert "as root, type them as they are; as another user, sudo make run, sudo make test" in text
    assert "make help this list" in text


def test_install_deps_says_how_to_get_root():
    # The real script, as a user who is not root, with one package it cannot
    # find installed (the copy differs from it in that list only).
    # (On stdin: nobody cannot read files under pytest's tmp_path.)
    with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
        script = f.read()
    copy, n = re.subn(r'^build="[^"]*"', 'build="tcpaccept-no-such-package"', script, flags=re.M)
    assert n == 1, "install-deps.sh has no build= line"
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "sh", "-s", "build"], input=copy, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1, res
    assert res.stderr == ("install-deps: missing packages: tcpaccept-no-such-package; installing "
                          "them needs root: as root, run the same make command again as it is; as "
                          "another user, put sudo before it (sudo make test)\n"), res.stderr


# --- 2. -4 and dual-stack listeners: --client-family ------------------------------

def test_client_family_and_dual_stack_listeners():
    # A dual-stack listener (tcppeer --family mapped: bound to :: without
    # V6ONLY) gets its IPv4 clients as IPv6 sockets, ::ffff:127.0.0.1.
    ports = {fam: free_port() for fam in ("4", "6", "mapped")}
    plist = ",".join(str(p) for p in ports.values())
    tracers = {
        "-4": Tracer("-4", "-P", plist),
        "--client-family=4": Tracer("--client-family=4", "-P", plist),
        "--client-family=6": Tracer("--client-family=6", "-P", plist),
        "-6 --client-family=4": Tracer("-6", "--client-family=4", "-P", plist),
    }
    results = {fam: peer("--family", fam, "--port", str(port), "--count", "2")
               for fam, port in ports.items()}
    assert {a["raddr"] for a in results["mapped"][1]} == {"::ffff:127.0.0.1"}
    kept = {"-4": {"4"}, "--client-family=4": {"4", "mapped"}, "--client-family=6": {"6"},
            "-6 --client-family=4": {"mapped"}}
    for name, t in tracers.items():
        out, err, rc = t.stop()
        assert rc == 0 and not LOST_RE.search(err), (name, err)
        rows = parse_rows(out)
        for fam, (ready, accepts) in results.items():
            if fam in kept[name]:
                check_rows(rows, accepts, ready["pid"])
            else:
                assert not [r for r in rows if r["pid"] == ready["pid"]], (name, fam, out)
        assert len(rows) == 2 * len(kept[name]), (name, out)


def test_client_family_counts_in_the_kernel():
    mapped_port, v6_port = free_port(), free_port()
    t = Tracer("-c", "--client-family=4", "-P", f"{mapped_port},{v6_port}", "-v",
               ready_on_stderr=True)
    mapped, _ = peer("--family", "mapped", "--port", str(mapped_port), "--count", "3",
                     "--comm", "dual")
    peer("--family", "6", "--port", str(v6_port), "--count", "2")
    out, err, rc = t.stop()
    assert rc == 0, err
    assert parse_count_table(out.splitlines()) == [
        (mapped["pid"], "dual", 6, "::ffff:127.0.0.1", mapped_port, 3)], out


def test_docs_say_what_minus_4_means():
    help_text = run("--help").stdout.decode()
    block = help_text.split("  -4, --ipv4")[1].split("\n  -6")[0]
    assert "sockets only" in block and "dual-stack" in block and "--client-family" in block, block
    with open(os.path.join(ROOT, "tcpaccept.8")) as f:
        man = f.read()
    section = man.split('.BR \\-4 ", " \\-\\-ipv4\n')[1].split(".TP")[0]
    assert "dual\\-stack" in section and "client\\-family" in section, section
    text = " ".join(readme().split())
    assert "-4, --ipv4 Trace IPv4 sockets only, as bcc's -4: an IPv4 client of a dual-stack" in text
    with open(os.path.join(ROOT, "tcpaccept_example.txt")) as f:
        example = f.read()
    assert "# ./tcpaccept --client-family=4\n" in example


# --- 3. no trailing blanks --------------------------------------------------------

COLUMN_LAYOUTS = [[], ["-t", "-T", "-U"], ["--print-proto"], ["-w"], ["-q"], ["-q", "-w"]]
TABLE_LAYOUTS = [["-c"], ["-c", "--print-proto", "-w"], ["-c", "-q"], ["-c", "-i", "1"]]


def test_no_line_ends_in_a_blank_and_grep_port_dollar_works():
    port = free_port(below=10000)   # LPORT shorter than its column
    tracers = [Tracer(*opts, "-P", str(port)) for opts in COLUMN_LAYOUTS]
    tables = [Tracer(*opts, "-P", str(port), "-v", ready_on_stderr=True) for opts in TABLE_LAYOUTS]
    ready, accepts = peer("--port", str(port), "--count", "3")
    ready6, accepts6 = peer("--port", str(port), "--count", "2", "--family", "6")
    time.sleep(1.2)     # one -i 1 table at least
    for opts, t in zip(COLUMN_LAYOUTS + TABLE_LAYOUTS, tracers + tables):
        out, err, rc = t.stop()
        assert rc == 0, (opts, err)
        assert out.count("\n") >= 2, (opts, out)
        for line in out.splitlines():
            assert line == line.rstrip(), (opts, line)
        if "-c" in opts:
            continue
        # The shell user's way: grep ' PORT$' finds every row of the port.
        res = subprocess.run(["grep", "-c", f" {port}$"], input=out.encode(),
                             capture_output=True, timeout=10)
        want = 0 if "-q" in opts else 5     # with -q, WAIT(ms) comes last
        assert int(res.stdout) == want, (opts, out)
        kw = {"wallclock": "-T" in opts, "timestamp": "-t" in opts, "uid": "-U" in opts,
              "queue": "-q" in opts, "wide": "-w" in opts, "proto": "--print-proto" in opts}
        rows = parse_rows(out, **kw)
        check_rows(rows, accepts, ready["pid"])
        check_rows(rows, accepts6, ready6["pid"])


# --- 4. -p of a process that is not there -----------------------------------------

def test_pid_that_is_no_process_fails_before_loading(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    res, calls = no_bpf_calls(tmp_path, "-p", str(gone.pid), "-d", "1")
    assert res.returncode == 1, res
    assert res.stderr.decode() == f"tcpaccept: no process with PID {gone.pid}\n"
    assert res.stdout == b"" and calls == [], calls


def test_pid_of_a_thread_is_refused(tmp_path):
    started, done = threading.Event(), threading.Event()
    tid = []

    def thread():
        tid.append(threading.get_native_id())
        started.set()
        done.wait(30)

    th = threading.Thread(target=thread)
    th.start()
    try:
        started.wait(10)
        res, calls = no_bpf_calls(tmp_path, "-p", str(tid[0]), "-d", "1")
    finally:
        done.set()
        th.join()
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: {tid[0]} is a thread of process {os.getpid()}: "
                                   "-p takes a process ID\n")
    assert calls == [], calls


# --- 5. unknown option: Try --help -----------------------------------------------

def test_unknown_option_says_try_help(tmp_path):
    for args, first in ((["--bogus"], "unrecognized option '--bogus'"),
                        (["-Z"], "invalid option -- 'Z'"),
                        (["-p"], "option requires an argument -- 'p'"),
                        (["80"], "unexpected argument '80'")):
        res, calls = no_bpf_calls(tmp_path, *args)
        assert res.returncode == 64, (args, res)
        assert res.stderr.decode() == f"tcpaccept: {first}\n{TRY_HELP}", args
        assert res.stdout == b"" and calls == [], (args, calls)
    # A bad value says what is wanted in its one line: no Try line.
    res = run("-d", "0")
    assert res.returncode == 64
    assert res.stderr.decode() == "tcpaccept: invalid duration '0': expected 1-31536000 seconds\n"


# --- 6. -c on a terminal ---------------------------------------------------------

class OnTerminal:
    """tcpaccept with its stderr on a pseudo-terminal, as in a shell."""

    def __init__(self, *args):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen([TCPACCEPT, *args], stdout=subprocess.PIPE, stderr=slave,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_pytest)
        STARTED.append(self.proc)
        os.close(slave)
        self.text = b""

    def read_until(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred(self.text) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError as e:    # EIO: the process closed it
                    if e.errno != errno.EIO:
                        raise
                    break
                self.text += chunk
        return self.text.decode(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        tail = self.read_until(lambda t: False, 0.5)
        os.close(self.master)
        return out.decode(), tail, self.proc.returncode


COUNTING = ("tcpaccept: counting accepts until Ctrl-C, then printing the table "
            "(-i SECS: a table every SECS seconds)\r\n")


def test_count_on_a_terminal_says_what_it_does():
    port = free_port()
    term = OnTerminal("-c", "-P", str(port))
    said = term.read_until(lambda t: b"\n" in t, 30)
    # Printed once attached: what it counts from here on is in the table.
    assert said == COUNTING, said
    ready, _ = peer("--port", str(port), "--count", "3", "--comm", "on-tty")
    out, tail, rc = term.stop()
    assert rc == 0 and tail == COUNTING, tail
    assert parse_count_table(out.splitlines()) == [
        (ready["pid"], "on-tty", 4, "127.0.0.1", port, 3)], out


def test_count_with_duration_on_a_terminal():
    term = OnTerminal("-c", "-d", "2", "-P", str(free_port()))
    said = term.read_until(lambda t: b"\n" in t, 30)
    assert said == ("tcpaccept: counting accepts for 2 s (or until Ctrl-C), then printing "
                    "the table (-i SECS: a table every SECS seconds)\r\n"), said
    out, _ = term.proc.communicate(timeout=30)
    os.close(term.master)
    assert term.proc.returncode == 0 and out.decode().startswith("PID "), out


def test_count_says_nothing_when_not_on_a_terminal():
    # Scripts and tests that read stderr see what they saw before: nothing
    # with -c -d alone; and -i prints tables, so nothing to say on a terminal.
    res = run("-c", "-d", "1", "-P", str(free_port()))
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    term = OnTerminal("-c", "-i", "1", "-d", "2", "-P", str(free_port()))
    out, _ = term.proc.communicate(timeout=30)
    said = term.read_until(lambda t: False, 0.5)
    os.close(term.master)
    assert term.proc.returncode == 0 and said == "", said


# --- 7. -P ranges -------------------------------------------------------------------

def test_port_ranges_and_lists():
    # Three free ports a < b < c: -P a-b keeps a and b and drops c; the list
    # also holds 200 other ports, more than the 64 there used to be room for.
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    a, b, c = sorted(ports)
    others = ",".join(str(p) for p in range(1100, 1300))
    t = Tracer("-P", f"{others},{a}-{b},1-3")
    (ra, acc_a), (rb, acc_b), (rc_, _) = (peer("--port", str(p), "--count", "2") for p in (a, b, c))
    out, err, rc = t.stop()
    assert rc == 0, err
    rows = parse_rows(out)
    check_rows(rows, acc_a, ra["pid"])
    check_rows(rows, acc_b, rb["pid"])
    assert not [r for r in rows if r["pid"] == rc_["pid"]], out
    assert {r["lport"] for r in rows} <= {a, b} | set(range(1100, 1300)) | set(range(a, b + 1))


def test_bad_port_ranges_refused(tmp_path):
    for arg, why in (("90-80", "range '90-80' ends before it starts"),
                     ("0", "'0' is not a port 1-65535 or a range FIRST-LAST"),
                     ("80-65536", "'80-65536' is not a port 1-65535 or a range FIRST-LAST"),
                     ("80,", "empty item")):
        res, calls = no_bpf_calls(tmp_path, "-P", arg)
        assert res.returncode == 64, (arg, res)
        assert res.stderr.decode() == f"tcpaccept: invalid port list '{arg}': {why}\n"
        assert calls == [], calls


# --- 8. -C on a directory that is not cgroup v2 ---------------------------------------

def cgroup2_mounts():
    """The cgroup2 mount points /proc/self/mountinfo lists."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            if tail.split()[0] == "cgroup2":
                points.append(fields.split()[4])
    return points


def not_cgroup2_dir():
    """A cgroup v1 hierarchy where the host has one (a hybrid host, as this
    one), else a plain directory."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            if tail.split()[0] == "cgroup":
                return fields.split()[4]
    return "/tmp"


def test_not_cgroup2_says_where_cgroup2_is(tmp_path):
    where = cgroup2_mounts()
    assert where, "this test wants a host with cgroup v2 mounted somewhere"
    path = not_cgroup2_dir()
    res, calls = no_bpf_calls(tmp_path, "-C", path)
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: '{path}' is not a cgroup v2 directory; cgroup v2 "
                                   f"is mounted at {', '.join(where)} on this host\n")
    assert calls == [], calls


def test_not_cgroup2_says_none_is_mounted():
    # A private mount namespace without any cgroup2 mount.
    path = not_cgroup2_dir()
    umounts = " && ".join(f"umount -l {p}" for p in cgroup2_mounts()) or "true"
    res = subprocess.run(["unshare", "--mount", "sh", "-c",
                          f"{umounts} && ! grep -q ' - cgroup2 ' /proc/self/mountinfo && "
                          f'exec {TCPACCEPT} -C "$0"', path],
                         capture_output=True, timeout=10)
    assert res.returncode == 1, res
    assert res.stderr.decode() == (f"tcpaccept: '{path}' is not a cgroup v2 directory; no cgroup v2 "
                                   "is mounted on this host (mount -t cgroup2 none DIR)\n")
