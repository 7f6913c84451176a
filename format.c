// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <arpa/inet.h>
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

/* Appenders for the column rows, by hand rather than with snprintf(), which
 * costs most of what a row costs in user space (bench/README.md). Each
 * writes at @p and returns the new end; the callers give FMT_LINE_MAX
 * bytes, more than the longest row. */
static char *put_str(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

static char *put_uint(char *p, unsigned int v)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
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
			p = put_uint(p, addr[i]);
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

static size_t clamp(int n, size_t size)
{
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* Unix time of a CLOCK_MONOTONIC timestamp, as seconds.microseconds. */
static int fmt_unix_time(char *out, size_t size, const struct fmt_state *st, __u64 ts_ns)
{
	__s64 real = (__s64)ts_ns + st->mono_to_real_ns;

	if (real < 0)
		real = 0;
	return snprintf(out, size, "%lld.%06lld", (long long)(real / 1000000000),
			(long long)(real % 1000000000 / 1000));
}

/* --- records ------------------------------------------------------------------- */

bool fmt_decode(const void *data, size_t size, bool queue, struct event *e)
{
	const unsigned char *p = data;
	struct event_head h;
	struct event_queue q;
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
	if (h.kind >= NR_EVENT_KINDS || size != RECORD_SIZE(h.kind, queue, addr_len))
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
	if (h.kind == EVENT_ACCEPT && queue) {
		memcpy(&q, p + off, sizeof(q));
		off += sizeof(q);
		e->backlog_len = q.backlog_len;
		e->backlog_max = q.backlog_max;
		e->wait_ns = q.wait_ns;
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

/* Which lines show a column or key, */
enum { ROWS = 1, COUNTS = 2 };
/* and the option it needs (0: none). */
enum { F_WALLCLOCK = 1, F_TIMESTAMP = 2, F_UID = 4, F_PROTO = 8, F_QUEUE = 16 };

static unsigned int options_of(const struct fmt_state *st)
{
	return (st->wallclock ? F_WALLCLOCK : 0) | (st->timestamp ? F_TIMESTAMP : 0) |
	       (st->print_uid ? F_UID : 0) | (st->print_proto ? F_PROTO : 0) |
	       (st->queue ? F_QUEUE : 0);
}

#define ADDR_WIDTH(st) ((st)->wide ? 39 : 16)
/* A column's width: its own, the address width, or its title's. */
#define W_ADDR 0xff
#define W_TITLE 0

struct column {
	const char *title;
	unsigned char width;
	unsigned char lines;	/* ROWS, COUNTS */
	unsigned char needs;	/* F_* */
	unsigned char kind;	/* put_count: enum event_kind */
	/* Writes the value at @p (at most the width where it is cut, COMM);
	 * returns the end. */
	char *(*put)(char *p, const struct cell *c, const struct column *col);
};

static char *put_time(char *p, const struct cell *c, const struct column *col)
{
	const char *hms = event_hms(c->st, c->e->ts_ns);

	(void)col;
	return put_str(p, hms, strlen(hms));
}

static char *put_elapsed(char *p, const struct cell *c, const struct column *col)
{
	struct fmt_state *st = c->st;

	(void)col;
	if (!st->have_first) {
		st->first_ts_ns = c->e->ts_ns;
		st->have_first = true;
	}
	/* bcc prints "%-9.3f", which runs into PID from 10000 s on. */
	return p + clamp(snprintf(p, 32, "%.3f",
				  (double)(__s64)(c->e->ts_ns - st->first_ts_ns) / 1e9), 32);
}

static char *put_uid(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_uint(p, c->e->uid);
}

static char *put_pid(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_uint(p, c->e->pid);
}

/* The escaped name, cut to the column between two whole escapes. */
static char *put_comm(char *p, const struct cell *c, const struct column *col)
{
	char comm[4 * TASK_COMM_LEN + 1];
	size_t n = fmt_escape_column(comm, (size_t)col->width + 1, c->e->comm, sizeof(c->e->comm));

	return put_str(p, comm, n);
}

static char *put_ip(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	*p = c->e->family == AF_INET6 ? '6' : '4';
	return p + 1;
}

static char *put_proto(char *p, const struct cell *c, const struct column *col)
{
	const char *proto = fmt_proto_name(c->e->proto);

	(void)col;
	return put_str(p, proto, strlen(proto));
}

static char *put_addr(char *p, int family, const __u8 addr[16])
{
	char text[INET6_ADDRSTRLEN];

	fmt_addr(text, sizeof(text), family, addr);
	return put_str(p, text, strlen(text));
}

static char *put_raddr(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_addr(p, c->e->family, c->e->raddr);
}

static char *put_laddr(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_addr(p, c->e->family, c->e->laddr);
}

static char *put_rport(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_uint(p, c->e->rport);
}

static char *put_lport(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	return put_uint(p, c->e->lport);
}

static char *put_backlog(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	p = put_uint(p, c->e->backlog_len);
	*p++ = '/';
	return put_uint(p, c->e->backlog_max);
}

static char *put_wait(char *p, const struct cell *c, const struct column *col)
{
	(void)col;
	if (c->e->wait_ns == WAIT_UNKNOWN)
		return put_str(p, "-", 1);
	return p + clamp(snprintf(p, 32, "%.3f", (double)c->e->wait_ns / 1e6), 32);
}

static char *put_count(char *p, const struct cell *c, const struct column *col)
{
	return p + clamp(snprintf(p, 24, "%llu",
				  (unsigned long long)c->counts->events[col->kind]), 24);
}

#define KIND_COLUMN(id, name, column, key) { column, W_TITLE, COUNTS, 0, id, put_count },

/* The columns, in order; a line shows those of its kind whose option is
 * given. bcc's columns are PID to LPORT. */
static const struct column columns[] = {
	{ "TIME", 8, ROWS, F_WALLCLOCK, 0, put_time },
	{ "TIME(s)", 8, ROWS, F_TIMESTAMP, 0, put_elapsed },
	{ "UID", 6, ROWS, F_UID, 0, put_uid },
	{ "PID", 7, ROWS | COUNTS, 0, 0, put_pid },
	{ "COMM", 12, ROWS | COUNTS, 0, 0, put_comm },
	{ "IP", 2, ROWS | COUNTS, 0, 0, put_ip },
	{ "PROTO", 5, ROWS | COUNTS, F_PROTO, 0, put_proto },
	{ "RADDR", W_ADDR, ROWS, 0, 0, put_raddr },
	{ "RPORT", 5, ROWS, 0, 0, put_rport },
	{ "LADDR", W_ADDR, ROWS | COUNTS, 0, 0, put_laddr },
	{ "LPORT", 5, ROWS | COUNTS, 0, 0, put_lport },
	{ "BL", 11, ROWS, F_QUEUE, 0, put_backlog },
	{ "WAIT(ms)", W_TITLE, ROWS, F_QUEUE, 0, put_wait },
	FOR_EACH_KIND(KIND_COLUMN)
};

#define NR_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static size_t width_of(const struct column *col, const struct fmt_state *st)
{
	if (col->width == W_ADDR)
		return (size_t)ADDR_WIDTH(st);
	if (col->width == W_TITLE)
		return strlen(col->title);
	return col->width;
}

static bool shown(const struct column *col, unsigned int lines, unsigned int options)
{
	return (col->lines & lines) && (col->needs & ~options) == 0;
}

/* The index of the last column @lines show: it alone is not padded, so no
 * line ends in a blank (`grep ' 8080$'` finds the port's rows). */
static size_t last_shown(unsigned int lines, unsigned int options)
{
	size_t last = 0;

	for (size_t i = 0; i < NR_COLUMNS; i++)
		if (shown(&columns[i], lines, options))
			last = i;
	return last;
}

/* The titles (@c NULL) or the values of @c, padded to the widths, one
 * blank between columns, and the newline. */
static size_t put_line(const struct fmt_state *st, unsigned int lines, const struct cell *c,
		       char *buf)
{
	unsigned int options = options_of(st);
	size_t last = last_shown(lines, options);
	char *p = buf, *start;

	for (size_t i = 0; i <= last; i++) {
		const struct column *col = &columns[i];
		size_t width;

		if (!shown(col, lines, options))
			continue;
		start = p;
		p = c ? col->put(p, c, col) : put_str(p, col->title, strlen(col->title));
		if (i == last)
			break;
		for (width = width_of(col, st); (size_t)(p - start) < width; )
			*p++ = ' ';
		*p++ = ' ';
	}
	*p++ = '\n';
	return (size_t)(p - buf);
}

/* JSON: "key":value pairs, in this order. */
struct json_key {
	const char *key;
	unsigned char lines;	/* ROWS, COUNTS */
	unsigned char needs;	/* F_QUEUE */
	unsigned char kind;	/* json_count: enum event_kind */
	/* Writes the value; returns its length (snprintf's). */
	int (*put)(char *buf, size_t size, const struct cell *c, const struct json_key *k);
};

static int json_ts(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	return fmt_unix_time(buf, size, c->st, c->e->ts_ns);
}

#define JSON_UINT(name, field)								\
	static int json_##name(char *buf, size_t size, const struct cell *c,		\
			       const struct json_key *k)				\
	{										\
		(void)k;								\
		return snprintf(buf, size, "%u", (unsigned int)c->e->field);		\
	}
JSON_UINT(pid, pid)
JSON_UINT(tid, tid)
JSON_UINT(uid, uid)
JSON_UINT(rport, rport)
JSON_UINT(lport, lport)
JSON_UINT(netns, netns)
JSON_UINT(backlog, backlog_len)
JSON_UINT(backlog_max, backlog_max)

static int json_comm(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	char comm[6 * TASK_COMM_LEN + 1];

	(void)k;
	fmt_json_escape(comm, sizeof(comm), c->e->comm, sizeof(c->e->comm));
	return snprintf(buf, size, "\"%s\"", comm);
}

static int json_ip(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	return snprintf(buf, size, "%d", c->e->family == AF_INET6 ? 6 : 4);
}

static int json_proto(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	return snprintf(buf, size, "\"%s\"", fmt_proto_name(c->e->proto));
}

static int json_addr(char *buf, size_t size, int family, const __u8 addr[16])
{
	char text[INET6_ADDRSTRLEN];

	fmt_addr(text, sizeof(text), family, addr);
	return snprintf(buf, size, "\"%s\"", text);
}

static int json_raddr(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	return json_addr(buf, size, c->e->family, c->e->raddr);
}

static int json_laddr(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	return json_addr(buf, size, c->e->family, c->e->laddr);
}

static int json_wait(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	(void)k;
	if (c->e->wait_ns == WAIT_UNKNOWN)
		return snprintf(buf, size, "null");
	return snprintf(buf, size, "%.3f", (double)c->e->wait_ns / 1e6);
}

static int json_count(char *buf, size_t size, const struct cell *c, const struct json_key *k)
{
	return snprintf(buf, size, "%llu", (unsigned long long)c->counts->events[k->kind]);
}

#define KIND_KEY(id, name, column, key) { key, COUNTS, 0, id, json_count },

static const struct json_key json_keys[] = {
	{ "ts", ROWS | COUNTS, 0, 0, json_ts },
	{ "pid", ROWS | COUNTS, 0, 0, json_pid },
	{ "tid", ROWS, 0, 0, json_tid },
	{ "comm", ROWS | COUNTS, 0, 0, json_comm },
	{ "uid", ROWS, 0, 0, json_uid },
	{ "ip", ROWS | COUNTS, 0, 0, json_ip },
	{ "proto", ROWS | COUNTS, 0, 0, json_proto },
	{ "raddr", ROWS, 0, 0, json_raddr },
	{ "rport", ROWS, 0, 0, json_rport },
	{ "laddr", ROWS | COUNTS, 0, 0, json_laddr },
	{ "lport", ROWS | COUNTS, 0, 0, json_lport },
	{ "netns", ROWS, 0, 0, json_netns },
	{ "backlog", ROWS, F_QUEUE, 0, json_backlog },
	{ "backlog_max", ROWS, F_QUEUE, 0, json_backlog_max },
	{ "wait_ms", ROWS, F_QUEUE, 0, json_wait },
	FOR_EACH_KIND(KIND_KEY)
};

static size_t put_json(const struct cell *c, unsigned int lines, char *buf, size_t size)
{
	unsigned int options = options_of(c->st);
	size_t n = 0;

	for (size_t i = 0; i < sizeof(json_keys) / sizeof(json_keys[0]); i++) {
		const struct json_key *k = &json_keys[i];

		if (!(k->lines & lines) || (k->needs & ~options))
			continue;
		n += clamp(snprintf(buf + n, size - n, "%s\"%s\":", n ? "," : "{", k->key), size - n);
		n += clamp(k->put(buf + n, size - n, c, k), size - n);
	}
	n += clamp(snprintf(buf + n, size - n, "}\n"), size - n);
	return n;
}

/* --- lines ----------------------------------------------------------------------- */

size_t fmt_header(const struct fmt_state *st, char *buf, size_t size)
{
	if (st->json || size < FMT_LINE_MAX)
		return 0;
	return put_line(st, ROWS, NULL, buf);
}

size_t fmt_event(struct fmt_state *st, const struct event *e, char *buf, size_t size)
{
	struct cell c = { st, e, NULL };

	if (size < FMT_LINE_MAX)
		return 0;
	if (st->json)
		return put_json(&c, ROWS, buf, size);
	return put_line(st, ROWS, &c, buf);
}

size_t fmt_count_header(const struct fmt_state *st, char *buf, size_t size)
{
	if (st->json || size < FMT_LINE_MAX)
		return 0;
	return put_line(st, COUNTS, NULL, buf);
}

size_t fmt_count_row(struct fmt_state *st, const struct count_key *key,
		     const struct count_value *counts, __u64 now_ns, char *buf, size_t size)
{
	struct event e = {
		.ts_ns = now_ns,
		.pid = key->pid,
		.family = key->labels.family,
		.lport = key->labels.lport,
		.proto = key->labels.proto,
	};
	struct cell c = { st, &e, counts };

	if (size < FMT_LINE_MAX)
		return 0;
	memcpy(e.laddr, key->labels.laddr, sizeof(e.laddr));
	memcpy(e.comm, key->labels.comm, sizeof(e.comm));
	if (st->json)
		return put_json(&c, COUNTS, buf, size);
	return put_line(st, COUNTS, &c, buf);
}
