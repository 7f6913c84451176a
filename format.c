// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "format.h"

void fmt_init(struct fmt_state *st, bool wallclock, bool timestamp,
	      __s64 mono_to_real_ns)
{
	memset(st, 0, sizeof(*st));
	st->wallclock = wallclock;
	st->timestamp = timestamp;
	st->mono_to_real_ns = mono_to_real_ns;
	st->hms_sec = (time_t)-1;
}

/* --- escaping and values ------------------------------------------------------ */

/* Copies the NUL-terminated prefix of @src (at most @len bytes) to @out:
 * printable ASCII as it is, but for the bytes in @special; every other byte
 * as @prefix and two hex digits. Out of room, it stops before a whole
 * escape, never inside one. */
static size_t escape_bytes(char *out, size_t size, const char *src, size_t len,
			   const char *prefix, const char *special)
{
	static const char hex[] = "0123456789abcdef";
	size_t plen = strlen(prefix), n = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < len && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && !strchr(special, c)) {
			if (n + 1 >= size)
				break;
			out[n++] = (char)c;
		} else {
			if (n + plen + 2 >= size)
				break;
			memcpy(out + n, prefix, plen);
			out[n + plen] = hex[c >> 4];
			out[n + plen + 1] = hex[c & 0xf];
			n += plen + 2;
		}
	}
	out[n] = '\0';
	return n;
}

size_t fmt_json_escape(char *out, size_t size, const char *comm, size_t len)
{
	return escape_bytes(out, size, comm, len, "\\u00", "\"\\");
}

size_t fmt_escape_comm(char *out, size_t size, const char *comm, size_t len)
{
	return escape_bytes(out, size, comm, len, "\\x", "\\");
}

size_t fmt_escape_column(char *out, size_t size, const char *comm, size_t len)
{
	return escape_bytes(out, size, comm, len, "\\x", "\\ ");
}

/* Lines are written by hand rather than with snprintf(), which costs most
 * of what a row costs in user space (bench/README.md), through a writer
 * that never passes its end. */
struct out {
	char *p, *end;
};

static inline void out_str(struct out *o, const char *s, size_t len)
{
	if (len > (size_t)(o->end - o->p))
		len = (size_t)(o->end - o->p);
	memcpy(o->p, s, len);
	o->p += len;
}

static inline void out_char(struct out *o, char c)
{
	if (o->p < o->end)
		*o->p++ = c;
}

/* The decimal digits of @v, at the end of @digits; where they start. */
static char *digits_of(unsigned long long v, char digits[20])
{
	char *d = digits + 20;

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return d;
}

static size_t digit_count(unsigned long long v)
{
	size_t n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* @v in decimal, written in place from its last digit back. */
static void out_uint(struct out *o, unsigned long long v)
{
	size_t n = digit_count(v);
	char *d;

	if (n > (size_t)(o->end - o->p)) {
		char digits[20];

		d = digits_of(v, digits);
		out_str(o, d, (size_t)(digits + 20 - d));
		return;
	}
	d = o->p + n;
	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	o->p += n;
}

/* Blanks after a value that began at @start, to @width. */
static void out_pad(struct out *o, const char *start, size_t width)
{
	size_t len = (size_t)(o->p - start), room = (size_t)(o->end - o->p);

	if (len >= width)
		return;
	width -= len;
	if (width > room)
		width = room;
	memset(o->p, ' ', width);
	o->p += width;
}

/* snprintf()'s output, where a value is not worth doing by hand. The
 * writer's end leaves room for the NUL. */
__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	size_t room = (size_t)(o->end - o->p);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->p, room + 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->p += (size_t)n < room ? (size_t)n : room;
}

#define REASON_NAME(id, name) [id] = name,
static const char *const reason_names[NR_DROP_REASONS] = {
	FOR_EACH_DROP_REASON(REASON_NAME)
};

const char *fmt_reason_name(unsigned int reason)
{
	return reason < NR_DROP_REASONS ? reason_names[reason] : "unknown";
}

const char *fmt_errno_name(char *out, size_t size, unsigned int err)
{
	const char *name = err ? strerrorname_np((int)err) : NULL;

	if (name)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "E%u", err);
	return out;
}

/* @s escaped as fmt_json_escape() (@json) or fmt_escape_column() does,
 * whole runs of plain bytes at a time: a cgroup path is mostly plain, and
 * byte by byte its escaping cost more than the rest of the row. Stops
 * before an escape that does not fit. */
static void out_escaped(struct out *o, const char *s, bool json)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	const unsigned char quote = json ? '"' : ' ';

	for (;;) {
		for (run = p; *p >= 0x20 && *p < 0x7f && *p != quote && *p != '\\'; p++)
			;
		out_str(o, (const char *)run, (size_t)(p - run));
		if (!*p || o->end - o->p < 6)
			return;
		if (json) {
			memcpy(o->p, "\\u00", 4);
			o->p += 4;
		} else {
			memcpy(o->p, "\\x", 2);
			o->p += 2;
		}
		*o->p++ = hex[*p >> 4];
		*o->p++ = hex[*p & 0xf];
		p++;
	}
}

const char *fmt_proto_name(unsigned int proto)
{
	return proto == PROTO_MPTCP ? "mptcp" : "tcp";
}

void fmt_addr(char *out, size_t size, int family, const __u8 addr[16])
{
	/* glibc's inet_ntop() prints IPv4 with sprintf(): done by hand. */
	if (family == AF_INET && size >= INET_ADDRSTRLEN) {
		char *p = out;

		for (int i = 0; i < 4; i++) {
			unsigned int b = addr[i];

			if (b >= 100)
				*p++ = (char)('0' + b / 100);
			if (b >= 10)
				*p++ = (char)('0' + b / 10 % 10);
			*p++ = (char)('0' + b % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return;
	}
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)size))
		snprintf(out, size, "?");
}

/* HH:MM:SS of the event in local time; localtime_r() is only called when
 * the second changes. */
static const char *event_hms(struct fmt_state *st, __u64 ts_ns)
{
	time_t sec = (time_t)(((__s64)ts_ns + st->mono_to_real_ns) / 1000000000);
	struct tm tm;

	if (sec != st->hms_sec) {
		if (!localtime_r(&sec, &tm) ||
		    !strftime(st->hms_text, sizeof(st->hms_text), "%H:%M:%S", &tm))
			snprintf(st->hms_text, sizeof(st->hms_text), "?");
		st->hms_sec = sec;
	}
	return st->hms_text;
}

/* --- records ------------------------------------------------------------------- */

bool fmt_decode(const void *data, size_t size, const struct fmt_parts *parts, struct event *e)
{
	const unsigned char *p = data;
	struct event_identity id;
	struct event_head h;
	struct event_queue q;
	struct event_failure f;
	size_t addr_len, off = sizeof(h);

	if (size < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (h.family == AF_INET)
		addr_len = ADDR4_LEN;
	else if (h.family == AF_INET6)
		addr_len = ADDR6_LEN;
	else
		return false;
	if (h.kind >= NR_EVENT_KINDS ||
	    size != RECORD_SIZE(h.kind, parts->queue, parts->identity, addr_len))
		return false;
	memset(e, 0, sizeof(*e));
	e->ts_ns = h.ts_ns;
	e->pid = h.pid;
	e->tid = h.tid;
	e->uid = h.uid;
	e->netns = h.netns;
	e->family = h.family;
	e->lport = h.lport;
	e->rport = h.rport;
	e->proto = h.proto;
	e->kind = h.kind;
	memcpy(e->comm, h.comm, sizeof(e->comm));
	e->wait_ns = WAIT_UNKNOWN;
	if (h.kind == EVENT_ACCEPT && parts->queue) {
		memcpy(&q, p + off, sizeof(q));
		off += sizeof(q);
		e->backlog_len = q.backlog_len;
		e->backlog_max = q.backlog_max;
		e->wait_ns = q.wait_ns;
	}
	if (h.kind != EVENT_ACCEPT) {
		memcpy(&f, p + off, sizeof(f));
		off += sizeof(f);
		e->code = f.code;
		e->stage = f.stage;
		e->owner_known = f.owner_known;
	}
	if (parts->identity) {
		memcpy(&id, p + off, sizeof(id));
		off += sizeof(id);
		e->cgroup_id = id.cgroup_id;
		e->nspid = id.nspid;
		e->pidns = id.pidns;
		e->mntns = id.mntns;
	}
	memcpy(e->laddr, p + off, addr_len);
	memcpy(e->raddr, p + off + addr_len, addr_len);
	return true;
}

/* --- the tables of columns and JSON keys -------------------------------------- */

/* One line's values: an event, or a -c key (as an event) and its counts. */
struct cell {
	struct fmt_state *st;
	const struct event *e;
	const struct count_value *counts;	/* -c rows only */
};

/* Which lines show a column or key (FMT_ROWS, FMT_COUNTS: format.h), and
 * the option it needs (0: none). */
enum {
	F_WALLCLOCK = 1, F_TIMESTAMP = 2, F_UID = 4, F_PROTO = 8, F_QUEUE = 16, F_FAILED = 32,
	F_SERVICE = 64
};

static unsigned int options_of(const struct fmt_state *st)
{
	return (st->wallclock ? F_WALLCLOCK : 0) | (st->timestamp ? F_TIMESTAMP : 0) |
	       (st->print_uid ? F_UID : 0) | (st->print_proto ? F_PROTO : 0) |
	       (st->queue ? F_QUEUE : 0) | (st->failed ? F_FAILED : 0) |
	       (st->print_service ? F_SERVICE : 0) | (st->wide ? 0x100 : 0) | (st->json ? 0x200 : 0);
}

/* A column's width: its own, the address width, or its title's. */
#define W_ADDR 0xff
#define W_TITLE 0

struct column {
	const char *title;
	unsigned char width;
	unsigned char lines;	/* FMT_ROWS, FMT_COUNTS */
	unsigned char needs;	/* F_* */
	unsigned char kind;	/* put_count: enum event_kind */
	/* Writes the value (COMM cuts it to the width). */
	void (*put)(struct out *o, const struct cell *c, const struct column *col);
};

static void put_time(struct out *o, const struct cell *c, const struct column *col)
{
	const char *hms = event_hms(c->st, c->e->ts_ns);

	(void)col;
	out_str(o, hms, strlen(hms));
}

static void put_elapsed(struct out *o, const struct cell *c, const struct column *col)
{
	struct fmt_state *st = c->st;

	(void)col;
	if (!st->have_first) {
		st->first_ts_ns = c->e->ts_ns;
		st->have_first = true;
	}
	/* bcc prints "%-9.3f", which runs into PID from 10000 s on. */
	out_printf(o, "%.3f", (double)(__s64)(c->e->ts_ns - st->first_ts_ns) / 1e9);
}

static void put_uid(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	out_uint(o, c->e->uid);
}

#define KIND_NAME(id, name, column, key, traits) [id] = name,
static const char *const kind_names[NR_EVENT_KINDS] = {
	FOR_EACH_KIND(KIND_NAME)
};

#define KIND_TRAITS(id, name, column, key, traits) [id] = (traits),
static const unsigned char kind_traits[NR_EVENT_KINDS] = {
	FOR_EACH_KIND(KIND_TRAITS)
};

unsigned int fmt_kind_traits(unsigned int kind)
{
	return kind < NR_EVENT_KINDS ? kind_traits[kind] : 0;
}

/* Whether the event of @c is of a kind with @trait (KIND_*); a -c row is
 * of none. */
static bool kind_is(const struct cell *c, unsigned int trait)
{
	return !c->counts && (fmt_kind_traits(c->e->kind) & trait);
}

/* A task-less event's process is its listener's owner, unknown until
 * tcpaccept sees listen() or accept() on it (a -c row of such drops has
 * PID 0): "-". */
static bool no_owner(const struct cell *c)
{
	if (c->counts)
		return c->e->pid == 0;
	return kind_is(c, KIND_NO_TASK) && !c->e->owner_known;
}

static bool no_client(const struct cell *c)
{
	return kind_is(c, KIND_NO_CLIENT);
}

/* What failed, by the kind's code: a drop's reason, an error's errno name
 * (into @buf); NULL for a kind without one. */
static const char *failure_name(const struct cell *c, char *buf, size_t size)
{
	if (kind_is(c, KIND_REASON))
		return fmt_reason_name(c->e->code);
	if (kind_is(c, KIND_ERRNO))
		return fmt_errno_name(buf, size, c->e->code);
	return NULL;
}

static void put_pid(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	if (no_owner(c))
		out_char(o, '-');
	else
		out_uint(o, c->e->pid);
}

/* The escaped name, cut to the column between two whole escapes. */
static void put_comm(struct out *o, const struct cell *c, const struct column *col)
{
	char comm[4 * TASK_COMM_LEN + 1];
	size_t n = fmt_escape_column(comm, (size_t)col->width + 1, c->e->comm, sizeof(c->e->comm));

	if (no_owner(c))
		out_char(o, '-');
	else
		out_str(o, comm, n);
}

static void put_ip(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	out_char(o, c->e->family == AF_INET6 ? '6' : '4');
}

static void put_proto(struct out *o, const struct cell *c, const struct column *col)
{
	const char *proto = fmt_proto_name(c->e->proto);

	(void)col;
	out_str(o, proto, strlen(proto));
}

static void put_addr(struct out *o, int family, const __u8 addr[16])
{
	char text[INET6_ADDRSTRLEN];

	fmt_addr(text, sizeof(text), family, addr);
	out_str(o, text, strlen(text));
}

static void put_raddr(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	if (no_client(c))
		out_char(o, '-');
	else
		put_addr(o, c->e->family, c->e->raddr);
}

static void put_laddr(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	put_addr(o, c->e->family, c->e->laddr);
}

static void put_rport(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	if (no_client(c))
		out_char(o, '-');
	else
		out_uint(o, c->e->rport);
}

static void put_lport(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	out_uint(o, c->e->lport);
}

static void put_backlog(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	if (c->e->kind != EVENT_ACCEPT) {
		out_char(o, '-');
		return;
	}
	out_uint(o, c->e->backlog_len);
	out_char(o, '/');
	out_uint(o, c->e->backlog_max);
}

static void put_wait(struct out *o, const struct cell *c, const struct column *col)
{
	(void)col;
	if (c->e->kind != EVENT_ACCEPT || c->e->wait_ns == WAIT_UNKNOWN)
		out_char(o, '-');
	else
		out_printf(o, "%.3f", (double)c->e->wait_ns / 1e6);
}

/* What failed; "-" for an accept. */
static void put_reason(struct out *o, const struct cell *c, const struct column *col)
{
	char name[24];
	const char *r = failure_name(c, name, sizeof(name));

	(void)col;
	if (!r)
		r = "-";
	out_str(o, r, strlen(r));
}

static void put_count(struct out *o, const struct cell *c, const struct column *col)
{
	out_uint(o, c->counts->events[col->kind]);
}

/* The word that names the service, escaped as COMM is (a path may hold
 * anything); - if nothing names it. */
static void put_service(struct out *o, const struct cell *c, const struct column *col)
{
	const char *s = c->e->names.service;

	(void)col;
	if (!s)
		out_char(o, '-');
	else
		out_escaped(o, s, false);
}

#define KIND_COLUMN(id, name, column, key, traits)				\
	{ column, W_TITLE, FMT_COUNTS, (traits) & KIND_FAILED ? F_FAILED : 0, id, put_count },

/* The columns, in order; a line shows those of its lines whose option is
 * given. bcc's columns are PID to LPORT. */
static const struct column columns[] = {
	{ "TIME", 8, FMT_ROWS, F_WALLCLOCK, 0, put_time },
	{ "TIME(s)", 8, FMT_ROWS, F_TIMESTAMP, 0, put_elapsed },
	{ "UID", 6, FMT_ROWS, F_UID, 0, put_uid },
	{ "PID", 7, FMT_ROWS | FMT_COUNTS, 0, 0, put_pid },
	{ "COMM", 12, FMT_ROWS | FMT_COUNTS, 0, 0, put_comm },
	{ "IP", 2, FMT_ROWS | FMT_COUNTS, 0, 0, put_ip },
	{ "PROTO", 5, FMT_ROWS | FMT_COUNTS, F_PROTO, 0, put_proto },
	{ "RADDR", W_ADDR, FMT_ROWS, 0, 0, put_raddr },
	{ "RPORT", 5, FMT_ROWS, 0, 0, put_rport },
	{ "LADDR", W_ADDR, FMT_ROWS | FMT_COUNTS, 0, 0, put_laddr },
	{ "LPORT", 5, FMT_ROWS | FMT_COUNTS, 0, 0, put_lport },
	{ "BL", 11, FMT_ROWS, F_QUEUE, 0, put_backlog },
	{ "WAIT(ms)", W_TITLE, FMT_ROWS, F_QUEUE, 0, put_wait },
	{ "REASON", 18, FMT_ROWS, F_FAILED, 0, put_reason },	/* cookie_ack_dropped */
	FOR_EACH_KIND(KIND_COLUMN)
	/* Last: its values have any length (a cgroup path). */
	{ "SERVICE", W_TITLE, FMT_ROWS | FMT_COUNTS, F_SERVICE, 0, put_service },
};

_Static_assert(sizeof(columns) / sizeof(columns[0]) <= FMT_MAX_FIELDS, "FMT_MAX_FIELDS");

/* JSON: "key":value pairs, in this order. */
struct json_key {
	const char *key;	/* with its quotes and colon */
	unsigned char lines;	/* FMT_ROWS, FMT_COUNTS */
	unsigned char needs;	/* F_QUEUE, F_FAILED */
	unsigned char kind;	/* json_count: enum event_kind */
	/* The kinds of row that have it, as bits (1 << enum event_kind);
	 * 0: every kind. */
	unsigned char kinds;
	void (*put)(struct out *o, const struct cell *c, const struct json_key *k);
};

#define K_ACCEPT (1 << EVENT_ACCEPT)
#define K_DROP (1 << EVENT_DROP)
#define K_ERROR (1 << EVENT_ERROR)

/* Unix time of the event's CLOCK_MONOTONIC timestamp, seconds.micros. */
static void json_ts(struct out *o, const struct cell *c, const struct json_key *k)
{
	__s64 real = (__s64)c->e->ts_ns + c->st->mono_to_real_ns;
	char digits[20], *d;

	(void)k;
	if (real < 0)
		real = 0;
	out_uint(o, (unsigned long long)real / 1000000000);
	out_char(o, '.');
	d = digits_of((unsigned long long)real % 1000000000 / 1000 + 1000000, digits);
	out_str(o, d + 1, 6);	/* the six digits after the leading 1 */
}

static void json_string(struct out *o, const char *s)
{
	out_char(o, '"');
	out_str(o, s, strlen(s));
	out_char(o, '"');
}

static void json_null(struct out *o)
{
	out_str(o, "null", 4);
}

/* json_NAME(), writing the event's @field, or null where @unknown is. */
#define JSON_UINT_UNLESS(name, field, unknown)						\
	static void json_##name(struct out *o, const struct cell *c,			\
				const struct json_key *k)				\
	{										\
		(void)k;								\
		if (unknown)								\
			json_null(o);							\
		else									\
			out_uint(o, c->e->field);					\
	}
JSON_UINT_UNLESS(pid, pid, no_owner(c))
/* A task-less event (a drop) runs in no thread of the process. */
JSON_UINT_UNLESS(tid, tid, kind_is(c, KIND_NO_TASK))
JSON_UINT_UNLESS(rport, rport, no_client(c))

/* @s as a JSON string, escaped as fmt_json_escape() does; null if NULL. */
static void json_text(struct out *o, const char *s)
{
	if (!s) {
		json_null(o);
		return;
	}
	out_char(o, '"');
	out_escaped(o, s, true);
	out_char(o, '"');
}

/* A number that is 0 when unknown: null then. */
static void json_known(struct out *o, unsigned long long v)
{
	if (v)
		out_uint(o, v);
	else
		json_null(o);
}

/* json_NAME(), writing the event's @field with @put(o, value). */
#define JSON_FIELD(name, field, put)							\
	static void json_##name(struct out *o, const struct cell *c,			\
				const struct json_key *k)				\
	{										\
		(void)k;								\
		put(o, c->e->field);							\
	}
JSON_FIELD(uid, uid, out_uint)
JSON_FIELD(lport, lport, out_uint)
JSON_FIELD(netns, netns, out_uint)
JSON_FIELD(backlog, backlog_len, out_uint)
JSON_FIELD(backlog_max, backlog_max, out_uint)
JSON_FIELD(cgroup, names.cgroup, json_text)
JSON_FIELD(unit, names.unit, json_text)
JSON_FIELD(container, names.container, json_text)
JSON_FIELD(nspid, nspid, json_known)
JSON_FIELD(pidns, pidns, json_known)
JSON_FIELD(mntns, mntns, json_known)

static void json_comm(struct out *o, const struct cell *c, const struct json_key *k)
{
	char comm[6 * TASK_COMM_LEN + 1];

	(void)k;
	if (no_owner(c)) {
		json_null(o);
		return;
	}
	fmt_json_escape(comm, sizeof(comm), c->e->comm, sizeof(c->e->comm));
	json_string(o, comm);
}


static void json_event(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	json_string(o, c->e->kind < NR_EVENT_KINDS ? kind_names[c->e->kind] : "unknown");
}

/* "reason" or "errno", as the kind's code is. */
static void json_failure(struct out *o, const struct cell *c, const struct json_key *k)
{
	char name[24];
	const char *r = failure_name(c, name, sizeof(name));

	(void)k;
	json_string(o, r ? r : "unknown");
}

static void json_stage(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	json_string(o, c->e->stage == STAGE_ACK ? "ack" : "syn");
}

static void json_ip(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	out_char(o, c->e->family == AF_INET6 ? '6' : '4');
}

static void json_proto(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	json_string(o, fmt_proto_name(c->e->proto));
}

static void json_addr(struct out *o, int family, const __u8 addr[16])
{
	char text[INET6_ADDRSTRLEN];

	fmt_addr(text, sizeof(text), family, addr);
	json_string(o, text);
}

static void json_raddr(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	if (no_client(c))
		json_null(o);
	else
		json_addr(o, c->e->family, c->e->raddr);
}

static void json_laddr(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	json_addr(o, c->e->family, c->e->laddr);
}

static void json_wait(struct out *o, const struct cell *c, const struct json_key *k)
{
	(void)k;
	if (c->e->wait_ns == WAIT_UNKNOWN)
		out_str(o, "null", 4);
	else
		out_printf(o, "%.3f", (double)c->e->wait_ns / 1e6);
}

static void json_count(struct out *o, const struct cell *c, const struct json_key *k)
{
	out_uint(o, c->counts->events[k->kind]);
}

#define KIND_KEY(id, name, column, key, traits)					\
	{ "\"" key "\":", FMT_COUNTS, (traits) & KIND_FAILED ? F_FAILED : 0, id, 0, json_count },

static const struct json_key json_keys[] = {
	{ "\"ts\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_ts },
	{ "\"event\":", FMT_ROWS, 0, 0, 0, json_event },
	{ "\"pid\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_pid },
	{ "\"tid\":", FMT_ROWS, 0, 0, 0, json_tid },
	{ "\"comm\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_comm },
	{ "\"uid\":", FMT_ROWS, 0, 0, 0, json_uid },
	{ "\"ip\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_ip },
	{ "\"proto\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_proto },
	{ "\"raddr\":", FMT_ROWS, 0, 0, 0, json_raddr },
	{ "\"rport\":", FMT_ROWS, 0, 0, 0, json_rport },
	{ "\"laddr\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_laddr },
	{ "\"lport\":", FMT_ROWS | FMT_COUNTS, 0, 0, 0, json_lport },
	{ "\"netns\":", FMT_ROWS, 0, 0, 0, json_netns },
	{ "\"cgroup\":", FMT_ROWS, 0, 0, 0, json_cgroup },
	{ "\"unit\":", FMT_ROWS, 0, 0, 0, json_unit },
	{ "\"container\":", FMT_ROWS, 0, 0, 0, json_container },
	{ "\"nspid\":", FMT_ROWS, 0, 0, 0, json_nspid },
	{ "\"pidns\":", FMT_ROWS, 0, 0, 0, json_pidns },
	{ "\"mntns\":", FMT_ROWS, 0, 0, 0, json_mntns },
	/* -c -S counts per cgroup: its rows name it. */
	{ "\"cgroup\":", FMT_COUNTS, F_SERVICE, 0, 0, json_cgroup },
	{ "\"unit\":", FMT_COUNTS, F_SERVICE, 0, 0, json_unit },
	{ "\"container\":", FMT_COUNTS, F_SERVICE, 0, 0, json_container },
	{ "\"backlog\":", FMT_ROWS, F_QUEUE, 0, K_ACCEPT, json_backlog },
	{ "\"backlog_max\":", FMT_ROWS, F_QUEUE, 0, K_ACCEPT, json_backlog_max },
	{ "\"wait_ms\":", FMT_ROWS, F_QUEUE, 0, K_ACCEPT, json_wait },
	{ "\"reason\":", FMT_ROWS, 0, 0, K_DROP, json_failure },
	{ "\"stage\":", FMT_ROWS, 0, 0, K_DROP, json_stage },
	{ "\"errno\":", FMT_ROWS, 0, 0, K_ERROR, json_failure },
	FOR_EACH_KIND(KIND_KEY)
};

_Static_assert(sizeof(json_keys) / sizeof(json_keys[0]) <= FMT_MAX_FIELDS, "FMT_MAX_FIELDS");

/* --- layouts: what a line of its kind shows under the options ------------------- */

static size_t width_of(const struct column *col, const struct fmt_state *st)
{
	if (col->width == W_ADDR)
		return st->wide ? 39 : 16;
	if (col->width == W_TITLE)
		return strlen(col->title);
	return col->width;
}

/* The columns (or JSON keys) @lines show under @st's options. */
static void layout_make(struct fmt_layout *l, const struct fmt_state *st, unsigned int lines)
{
	unsigned int options = options_of(st);

	l->key = options | lines << 16;
	l->n = 0;
	for (size_t i = 0; !st->json && i < sizeof(columns) / sizeof(columns[0]); i++)
		if ((columns[i].lines & lines) && !(columns[i].needs & ~options)) {
			l->fields[l->n] = (unsigned char)i;
			l->widths[l->n++] = (unsigned char)width_of(&columns[i], st);
		}
	for (size_t i = 0; st->json && i < sizeof(json_keys) / sizeof(json_keys[0]); i++)
		if ((json_keys[i].lines & lines) && !(json_keys[i].needs & ~options))
			l->fields[l->n++] = (unsigned char)i;
}

/* The layout for @lines, made again only when the options changed. */
static const struct fmt_layout *layout_of(struct fmt_state *st, unsigned int lines)
{
	struct fmt_layout *l = &st->layouts[lines == FMT_COUNTS];

	if (l->key != (options_of(st) | lines << 16))
		layout_make(l, st, lines);
	return l;
}

/* The titles (@c NULL) or the values of @c, padded to the widths, one
 * blank between columns, and the newline. Only the last column is not
 * padded: no line ends in a blank (`grep ' 8080$'` finds the port). */
static void put_columns(struct out *o, const struct fmt_layout *l, const struct cell *c)
{
	for (unsigned int i = 0; i < l->n; i++) {
		const struct column *col = &columns[l->fields[i]];
		char *start = o->p;

		if (c)
			col->put(o, c, col);
		else
			out_str(o, col->title, strlen(col->title));
		if (i + 1 == l->n)
			break;
		out_pad(o, start, l->widths[i]);
		out_char(o, ' ');
	}
	out_char(o, '\n');
}

static void put_json(struct out *o, const struct fmt_layout *l, const struct cell *c)
{
	/* A kind no key lists (none but a fuzzer's) shows the common keys. */
	unsigned int kind = c->counts || c->e->kind >= NR_EVENT_KINDS ? 0 : 1u << c->e->kind;
	bool first = true;

	for (unsigned int i = 0; i < l->n; i++) {
		const struct json_key *k = &json_keys[l->fields[i]];

		if (k->kinds && !(k->kinds & kind))
			continue;
		out_char(o, first ? '{' : ',');
		first = false;
		out_str(o, k->key, strlen(k->key));
		k->put(o, c, k);
	}
	out_str(o, "}\n", 2);
}

/* --- lines ----------------------------------------------------------------------- */

/* The line of @c (the header if NULL) into @buf; its length. */
static size_t put_line(const struct fmt_layout *l, const struct cell *c, bool json, char *buf,
		       size_t size)
{
	/* One byte kept for out_printf()'s NUL. */
	struct out o = { buf, buf + size - 1 };

	if (size < FMT_LINE_MAX)
		return 0;
	if (json)
		put_json(&o, l, c);
	else
		put_columns(&o, l, c);
	return (size_t)(o.p - buf);
}

size_t fmt_header(const struct fmt_state *st, char *buf, size_t size)
{
	struct fmt_layout l;

	if (st->json)
		return 0;
	layout_make(&l, st, FMT_ROWS);
	return put_line(&l, NULL, false, buf, size);
}

size_t fmt_event(struct fmt_state *st, const struct event *e, char *buf, size_t size)
{
	struct cell c = { st, e, NULL };

	return put_line(layout_of(st, FMT_ROWS), &c, st->json, buf, size);
}

size_t fmt_count_header(const struct fmt_state *st, char *buf, size_t size)
{
	struct fmt_layout l;

	if (st->json)
		return 0;
	layout_make(&l, st, FMT_COUNTS);
	return put_line(&l, NULL, false, buf, size);
}

size_t fmt_count_row(struct fmt_state *st, const struct count_key *key,
		     const struct count_value *counts, const struct fmt_names *names,
		     __u64 now_ns, char *buf, size_t size)
{
	struct event e = {
		.ts_ns = now_ns,
		.pid = key->pid,
		.family = key->labels.family,
		.lport = key->labels.lport,
		.proto = key->labels.proto,
	};
	struct cell c = { st, &e, counts };

	if (names)
		e.names = *names;
	memcpy(e.laddr, key->labels.laddr, sizeof(e.laddr));
	memcpy(e.comm, key->labels.comm, sizeof(e.comm));
	return put_line(layout_of(st, FMT_COUNTS), &c, st->json, buf, size);
}
