# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""What tcpaccept's output must say: the checks of the host, VM and package
tests.

The ground truth is what tests/peer/tcppeer prints about the connections it
accepted (READY/ACCEPT/DONE lines); the tracer's rows are compared with it
field by field: PID, COMM, IP, RADDR, RPORT, LADDR, LPORT (and UID, TID,
netns where the output has them).
"""
import heapq
import itertools
import json
import re
from collections import Counter

LOST_RE = re.compile(r"^tcpaccept: lost \d+ events", re.M)
JSON_KEYS = {"ts", "event", "pid", "tid", "comm", "uid", "ip", "proto", "raddr", "rport", "laddr", "lport",
             "netns", "cgroup", "unit", "container", "nspid", "pidns", "mntns"}
# Where a row belongs beyond its PIDs (issue 22): check_json(identity=...).
IDENTITY_KEYS = ("cgroup", "unit", "container", "nspid", "pidns", "mntns", "netns")
QUEUE_KEYS = {"backlog", "backlog_max", "wait_ms"}


def header(wallclock=False, timestamp=False, uid=False, queue=False, wide=False, proto=False,
           service=False):
    w = 39 if wide else 16
    h = ("TIME     " if wallclock else "") + ("TIME(s)  " if timestamp else "")
    h += "UID    " if uid else ""
    h += f"{'PID':<7} {'COMM':<12} {'IP':<2} " + ("PROTO " if proto else "")
    h += f"{'RADDR':<{w}} {'RPORT':<5} {'LADDR':<{w}} {'LPORT':<5}"
    if queue:
        h += f" {'BL':<11} WAIT(ms)"
    if service:
        h += " SERVICE"
    return h


def parse_rows(text, wallclock=False, timestamp=False, uid=False, queue=False, wide=False,
               proto=False, service=False):
    """Parses tcpaccept's column output into dicts; the header must come
    first. The row layout is fixed-width up to COMM (COMM may hold spaces),
    then whitespace-separated (SERVICE too: its spaces are escaped)."""
    lines = text.splitlines()
    assert lines, "tcpaccept printed nothing, not even its header"
    want = header(wallclock, timestamp, uid, queue, wide, proto, service)
    assert lines[0] == want, f"header {lines[0]!r} != {want!r}"
    rows = []
    for line in lines[1:]:
        row, rest = {"line": line}, line
        if wallclock:
            assert re.match(r"\d\d:\d\d:\d\d ", rest), line
            row["time"], rest = rest[:8], rest[9:]
        if timestamp:
            m = re.match(r"(\d+\.\d{3}) +", rest)
            assert m and len(m.group(0)) >= 9, line
            row["ts"], rest = m.group(1), rest[m.end():]
        if uid:
            m = re.match(r"(\d+) +", rest)
            assert m and len(m.group(0)) >= 7, line
            row["uid"], rest = int(m.group(1)), rest[m.end():]
        m = re.match(r"(\d+) +", rest)
        assert m and len(m.group(0)) >= 8, f"malformed row: {line!r}"
        row["pid"], rest = int(m.group(1)), rest[m.end():]
        assert len(rest) > 13 and rest[12] == " ", f"malformed COMM column: {line!r}"
        row["comm"], rest = rest[:12].rstrip(" "), rest[13:]
        fields = rest.split()
        if proto:
            row["proto"] = fields.pop(1)
            assert row["proto"] in ("tcp", "mptcp"), line
        if service:
            row["service"] = fields.pop()
        assert len(fields) == (7 if queue else 5), f"malformed row: {line!r}"
        row["ip"], row["raddr"], row["rport"], row["laddr"], row["lport"] = fields[:5]
        for k in ("ip", "rport", "lport"):
            row[k] = int(row[k])
        assert row["ip"] in (4, 6), line
        if queue:
            row["bl"], row["wait"] = fields[5], fields[6]
        rows.append(row)
    return rows


COUNT_HEADER = "PID     COMM         IP LADDR            LPORT ACCEPTS"


def parse_count_table(lines):
    """A -c table (header and rows) into (pid, comm, ip, laddr, lport,
    accepts) tuples; COMM is the fixed-width column, it may hold spaces."""
    assert lines[0] == COUNT_HEADER, lines
    rows = []
    for line in lines[1:]:
        m = re.match(r"(\d+) +", line)
        assert m and len(m.group(0)) >= 8 and line[m.end() + 12] == " ", line
        comm, rest = line[m.end():m.end() + 12].rstrip(" "), line[m.end() + 13:].split()
        assert len(rest) == 4, line
        rows.append((int(m.group(1)), comm, int(rest[0]), rest[1], int(rest[2]), int(rest[3])))
    return rows


def parse_json_lines(text):
    """Every line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines()]


def parse_peer(text):
    """Parses tcppeer's stdout: returns (ready, accepts, done)."""
    ready, accepts, done = None, [], None
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        fields = dict(kv.split("=", 1) for kv in rest.split())
        if word == "READY":
            ready = {"pid": int(fields["pid"]), "port": int(fields["port"])}
        elif word == "ACCEPT":
            accepts.append(fields)
        elif word == "DONE":
            done = int(fields["accepted"])
    assert ready is not None, f"tcppeer printed no READY line:\n{text}"
    assert done is not None, f"tcppeer did not finish:\n{text}"
    assert done == len(accepts), f"tcppeer: DONE accepted={done} but {len(accepts)} ACCEPT lines"
    return ready, accepts, done


def peer_lines(text, word):
    """tcppeer's lines that start with @word (CLIENT, FAILED, LISTENER),
    each as a dict of its key=value fields; numbers as ints."""
    rows = []
    for line in text.splitlines():
        first, _, rest = line.partition(" ")
        if first == word:
            fields = dict(kv.split("=", 1) for kv in rest.split())
            rows.append({k: int(v) if re.fullmatch(r"-?\d+", v) else v
                         for k, v in fields.items()})
    return rows


def peer_stats(text):
    """tcppeer --stats' STAT lines: {"TcpExt.ListenDrops": N, ...}, the
    counters of its network namespace that moved during the run."""
    return {m[0]: int(m[1]) for m in re.findall(r"^STAT (\S+)=(\d+)$", text, re.M)}


def peer_comm_bytes(escaped):
    """tcppeer's comm= value (\\xHH escapes) as the kernel's bytes."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  escaped.encode())


def tcpaccept_escape(raw):
    """What tcpaccept's COMM column makes of task name bytes: \\xHH for
    every byte outside printable ASCII, the backslash and the space."""
    return "".join(chr(b) if 0x20 < b < 0x7f and b != 0x5c else f"\\x{b:02x}" for b in raw)


def comm_column(raw):
    """The COMM column of a task name: its escapes, as many whole ones as
    fit in 12 characters."""
    text = ""
    for b in raw:
        unit = tcpaccept_escape(bytes([b]))
        if len(text) + len(unit) > 12:
            break
        text += unit
    return text


def row_key(pid, comm, ip, raddr, rport, laddr, lport, proto=None):
    return (int(pid), comm, int(ip), raddr, int(rport), laddr, int(lport), proto)


def expected_keys(accepts, with_proto=False):
    """What tcpaccept must print for tcppeer's accepts (COMM cut to 12)."""
    return [row_key(a["pid"], comm_column(peer_comm_bytes(a["comm"])),
                    a["ip"], a["raddr"], a["rport"], a["laddr"], a["lport"],
                    a["proto"] if with_proto else None) for a in accepts]


def check_rows(rows, accepts, pid):
    """Every row of @pid is one of @accepts and every accept has its row,
    exactly once, with every field right (PROTO too, if the rows have it:
    what SO_PROTOCOL said of the server's accepted fd)."""
    with_proto = any("proto" in r for r in rows)
    got = Counter(row_key(r["pid"], r["comm"], r["ip"], r["raddr"], r["rport"],
                          r["laddr"], r["lport"], r.get("proto")) for r in rows if r["pid"] == pid)
    want = Counter(expected_keys(accepts, with_proto))
    missing = want - got
    extra = got - want
    assert not missing and not extra, (
        f"{len(missing)} accepts not printed (first: {list(missing)[:3]}), "
        f"{len(extra)} rows not expected (first: {list(extra)[:3]})")
    for key in want:
        assert key[6] != 0, "LPORT 0"


def check_json(objs, accepts, pid, queue=False, netns=None, identity=None):
    """JSON Lines: exact keys, and every value of every accept of @pid;
    @identity: the values of IDENTITY_KEYS its rows must have (the truth
    from /proc, or from inside the server's namespaces)."""
    mine = [o for o in objs if o["pid"] == pid]
    for o in objs:
        assert set(o) == JSON_KEYS | (QUEUE_KEYS if queue else set()), sorted(o)
    got = Counter((o["pid"], o["tid"], o["comm"].encode("latin-1"), o["uid"], o["ip"],
                   o["proto"], o["raddr"], o["rport"], o["laddr"], o["lport"]) for o in mine)
    want = Counter((int(a["pid"]), int(a["tid"]), peer_comm_bytes(a["comm"]),
                    int(a.get("uid", 0)), 4 if a["ip"] == "4" else 6, a["proto"], a["raddr"],
                    int(a["rport"]), a["laddr"], int(a["lport"])) for a in accepts)
    assert got == want, f"JSON objects differ:\n got  {sorted(got)[:3]}\n want {sorted(want)[:3]}"
    if netns is not None:
        assert {o["netns"] for o in mine} == {netns}
    for o in mine:
        got = {k: o[k] for k in IDENTITY_KEYS if identity and k in identity}
        assert got == {k: identity[k] for k in got}, (got, identity)
    return mine


# --- --metrics: the Prometheus text exposition format ---------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text):
    """{(name, frozenset of (label, value)): float} from exposition text;
    every sample line must parse."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset((k, re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), v))
                           for k, v in LABEL_RE.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def series(samples, name, **labels):
    """The samples of @name whose labels include @labels: {labels: value}."""
    want = {(k, str(v)) for k, v in labels.items()}
    return {dict(lb).get("le", lb): v for (n, lb), v in samples.items()
            if n == name and want <= lb}


def one(samples, name, **labels):
    found = series(samples, name, **labels)
    assert len(found) == 1, f"{name} {labels}: {found}"
    return next(iter(found.values()))


# --- the accept-wait histogram against tcppeer's bounds -------------------------
#
# tcppeer (--hold, --delay-accept) prints for each accept wait_min_ns and
# wait_max_ns: what it proves about the wait tcpaccept measures (see
# tests/peer/README.md). A bucket, a count or a sum is right if some waits
# within those bounds give exactly it: never a bucket assumed from the delay
# asked for, which a loaded machine lengthens.

WAIT_SLOTS = 32         # tcpaccept.h: slot i holds [2^i, 2^(i+1)) us, 0 in slot 0
# The kernel reads CLOCK_MONOTONIC with ktime_get_mono_fast_ns(), tcppeer with
# clock_gettime(): one clocksource, but the fast reader may use the previous
# slope for a moment after an update, a difference far below this.
CLOCK_SLACK_NS = 1000


def wait_slot(ns):
    """The slot tcpaccept.bpf.c gives a wait of @ns: log2 of whole microseconds."""
    us = max(ns, 0) // 1000
    return min(max(us.bit_length() - 1, 0), WAIT_SLOTS - 1)


def wait_bounds(accept):
    """(min, max) wait in ns of one tcppeer ACCEPT line, widened by the slack."""
    return (int(accept["wait_min_ns"]) - CLOCK_SLACK_NS,
            int(accept["wait_max_ns"]) + CLOCK_SLACK_NS)


def maybe_unknown(accept):
    """Whether tcpaccept may not know this accept's wait: only if tcppeer
    could not prove that the handshake ended before the accept began."""
    return int(accept["wait_min_ns"]) == 0


def _assignable(counts, ranges):
    """Whether each (first, last) slot range can get one slot within it so
    that slot i gets exactly counts[i]. Earliest deadline first: each slot,
    lowest first, takes the ranges open there that end soonest; that finds
    an assignment whenever there is one."""
    ranges, open_, k = sorted(ranges), [], 0
    for slot, count in enumerate(counts):
        while k < len(ranges) and ranges[k][0] <= slot:
            heapq.heappush(open_, ranges[k][1])
            k += 1
        if open_ and open_[0] < slot:
            return False            # a range ended with no slot
        if len(open_) < count:
            return False
        for _ in range(count):
            heapq.heappop(open_)
    return k == len(ranges) and not open_


def check_wait_slots(counts, accepts, unknown=0, what=""):
    """@counts: a histogram's count in each of the WAIT_SLOTS slots, with
    @unknown accepts left out of it (no wait known). Asserts that @accepts,
    tcppeer's, could have made it: the unknown ones among those that may be
    unknown, and each other one in a slot within its bounds."""
    assert len(counts) == WAIT_SLOTS, counts
    ranges = [(wait_slot(lo), wait_slot(hi)) for lo, hi in map(wait_bounds, accepts)]
    optional = [i for i, a in enumerate(accepts) if maybe_unknown(a)]
    assert 0 <= unknown <= len(optional), (what, unknown, accepts)
    assert sum(counts) + unknown == len(accepts), (what, counts, unknown, len(accepts))
    ok = any(_assignable(counts, [r for i, r in enumerate(ranges) if i not in left_out])
             for left_out in map(set, itertools.combinations(optional, unknown)))
    nonzero = {i: c for i, c in enumerate(counts) if c}
    assert ok, f"{what}: slots {nonzero} (unknown {unknown}) but tcppeer's bounds allow " \
               f"slots {ranges}, from {[wait_bounds(a) for a in accepts]}"


def check_wait_sum(sum_ns, accepts, rounding_ns, unknown=0, what=""):
    """A histogram's sum of waits, in ns as printed (within @rounding_ns),
    against the sums of tcppeer's bounds: with @unknown accepts left out
    (among those that may be unknown), at least the sum of the smallest
    bounds and at most that of the largest that any such choice leaves."""
    bounds = [wait_bounds(a) for a in accepts]
    optional = [b for a, b in zip(accepts, bounds) if maybe_unknown(a)]
    lo = sum(b[0] for b in bounds) - sum(sorted(b[0] for b in optional)[len(optional) - unknown:])
    hi = sum(b[1] for b in bounds) - sum(sorted(b[1] for b in optional)[:unknown])
    assert lo - rounding_ns <= sum_ns <= hi + rounding_ns, (what, lo, sum_ns, hi)


def prom_wait_slots(samples, **labels):
    """--metrics' tcpaccept_accept_wait_seconds_bucket series as counts per
    slot, after checking that its le bounds are the slots' ends in seconds
    and that it is cumulative."""
    buckets = series(samples, "tcpaccept_accept_wait_seconds_bucket", **labels)
    # By value: node_exporter writes 2e-06 where tcpaccept wrote 0.000002.
    slots = {float(f"{2 << i}e-6"): i for i in range(WAIT_SLOTS - 1)}
    slots[float("inf")] = WAIT_SLOTS - 1
    cum = [None] * WAIT_SLOTS
    for le, value in buckets.items():
        assert float(le) in slots and cum[slots[float(le)]] is None, sorted(buckets)
        cum[slots[float(le)]] = int(value)
    assert None not in cum, sorted(buckets)
    counts = [c - (cum[i - 1] if i else 0) for i, c in enumerate(cum)]
    assert all(c >= 0 for c in counts), buckets
    return counts


def json_wait_slots(hist):
    """-c -q -j's histogram object as counts per slot, after checking each
    bucket's low and high (microseconds) against its slot."""
    counts = [0] * WAIT_SLOTS
    assert hist["unit"] == "usecs" and len(hist["buckets"]) <= WAIT_SLOTS, hist
    for i, b in enumerate(hist["buckets"]):
        high = (1 << (i + 1)) - 1 if i < WAIT_SLOTS - 1 else None
        assert (b["low"], b["high"]) == ((1 << i) if i else 0, high), (i, b)
        counts[i] = b["count"]
    assert sum(counts) == hist["count"], hist
    return counts


def check_wait_ms(wait_ms, accepts, rport):
    """-q's WAIT(ms) or wait_ms (printed to 0.5 us) of the accept from
    @rport, against tcppeer's bounds on its wait."""
    [accept] = [a for a in accepts if int(a["rport"]) == rport]
    lo, hi = wait_bounds(accept)
    assert lo - 500 <= float(wait_ms) * 1e6 <= hi + 500, (rport, wait_ms, lo, hi)
