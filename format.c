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

size_t json_escape(char *out, size_t size, const char *comm, size_t len)
{
	return escape_bytes(out, size, comm, len, "\\u00", "\"\\");
}

size_t escape_comm(char *out, size_t size, const char *comm, size_t len)
{
	return escape_bytes(out, size, comm, len, "\\x", "\\");
}

/* Appenders for the column rows: snprintf() took ~450 ns a row, nearly
 * all of the user-space CPU a flood costs. Each writes at @p and returns
 * the new end; fmt_event()'s callers give FMT_LINE_MAX bytes, more than
 * the longest row. */
static char *put_str(char *p, const char *s, size_t len, size_t width)
{
	memcpy(p, s, len);
	p += len;
	for (; len < width; len++)
		*p++ = ' ';
	return p;
}

/* "%-*u" */
static char *put_uint(char *p, unsigned int v, size_t width)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		*p++ = digits[n - 1 - i];
	for (; n < width; n++)
		*p++ = ' ';
	return p;
}

const char *proto_name(unsigned int proto)
{
	return proto == PROTO_MPTCP ? "mptcp" : "tcp";
}

void fmt_addr(char *out, size_t size, int family, const __u8 addr[16])
{
	/* glibc's inet_ntop() prints IPv4 with sprintf(): done by hand. */
	if (family == AF_INET && size >= INET_ADDRSTRLEN) {
		char *p = out;

		for (int i = 0; i < 4; i++) {
			p = put_uint(p, addr[i], 0);
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

#define ADDR_WIDTH(st) ((st)->wide ? 39 : 16)

size_t fmt_header(const struct fmt_state *st, char *buf, size_t size)
{
	int w = ADDR_WIDTH(st);
	size_t n = 0;

	if (st->json)
		return 0;
	if (st->wallclock)
		n += clamp(snprintf(buf + n, size - n, "%-9s", "TIME"), size - n);
	if (st->timestamp)
		n += clamp(snprintf(buf + n, size - n, "%-9s", "TIME(s)"), size - n);
	if (st->print_uid)
		n += clamp(snprintf(buf + n, size - n, "%-6s ", "UID"), size - n);
	n += clamp(snprintf(buf + n, size - n, "%-7s %-12s %-2s ", "PID", "COMM", "IP"), size - n);
	if (st->print_proto)
		n += clamp(snprintf(buf + n, size - n, "%-5s ", "PROTO"), size - n);
	n += clamp(snprintf(buf + n, size - n, "%-*s %-5s %-*s %-5s",
			    w, "RADDR", "RPORT", w, "LADDR", "LPORT"), size - n);
	if (st->queue)
		n += clamp(snprintf(buf + n, size - n, " %-11s %s", "BL", "WAIT(ms)"), size - n);
	n += clamp(snprintf(buf + n, size - n, "\n"), size - n);
	return n;
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

bool event_decode(const void *data, size_t size, bool queue, struct event *e)
{
	const unsigned char *p = data;
	struct event_head h;
	struct event_queue q;
	size_t addr_len, off = sizeof(h);

	if (size < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (h.family == AF_INET)
		addr_len = 4;
	else if (h.family == AF_INET6)
		addr_len = 16;
	else
		return false;
	if (size != sizeof(h) + (queue ? sizeof(q) : 0) + 2 * addr_len)
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
	memcpy(e->comm, h.comm, sizeof(e->comm));
	if (queue) {
		memcpy(&q, p + off, sizeof(q));
		off += sizeof(q);
		e->backlog_len = q.backlog_len;
		e->backlog_max = q.backlog_max;
		e->wait_ns = q.wait_ns;
	} else {
		e->wait_ns = WAIT_UNKNOWN;
	}
	memcpy(e->laddr, p + off, addr_len);
	memcpy(e->raddr, p + off + addr_len, addr_len);
	return true;
}

static size_t fmt_event_json(struct fmt_state *st, const struct event *e, char *buf,
			     size_t size)
{
	char comm[6 * TASK_COMM_LEN + 1], ts[32];
	char raddr[INET6_ADDRSTRLEN], laddr[INET6_ADDRSTRLEN];
	size_t n = 0;

	fmt_unix_time(ts, sizeof(ts), st, e->ts_ns);
	json_escape(comm, sizeof(comm), e->comm, sizeof(e->comm));
	fmt_addr(raddr, sizeof(raddr), e->family, e->raddr);
	fmt_addr(laddr, sizeof(laddr), e->family, e->laddr);
	n += clamp(snprintf(buf + n, size - n,
			    "{\"ts\":%s,\"pid\":%u,\"tid\":%u,\"comm\":\"%s\",\"uid\":%u,"
			    "\"ip\":%d,\"proto\":\"%s\",\"raddr\":\"%s\",\"rport\":%u,"
			    "\"laddr\":\"%s\",\"lport\":%u,\"netns\":%u",
			    ts, e->pid, e->tid, comm, e->uid, e->family == AF_INET6 ? 6 : 4,
			    proto_name(e->proto), raddr, e->rport, laddr, e->lport, e->netns), size - n);
	if (st->queue) {
		n += clamp(snprintf(buf + n, size - n, ",\"backlog\":%u,\"backlog_max\":%u",
				    e->backlog_len, e->backlog_max), size - n);
		if (e->wait_ns == WAIT_UNKNOWN)
			n += clamp(snprintf(buf + n, size - n, ",\"wait_ms\":null"), size - n);
		else
			n += clamp(snprintf(buf + n, size - n, ",\"wait_ms\":%.3f",
					    (double)e->wait_ns / 1e6), size - n);
	}
	n += clamp(snprintf(buf + n, size - n, "}\n"), size - n);
	return n;
}

size_t fmt_event(struct fmt_state *st, const struct event *e, char *buf,
		 size_t size)
{
	char comm[4 * TASK_COMM_LEN + 1];
	char raddr[INET6_ADDRSTRLEN], laddr[INET6_ADDRSTRLEN];
	int w = ADDR_WIDTH(st);
	size_t n = 0, comm_len;
	char *p;

	if (st->json)
		return fmt_event_json(st, e, buf, size);
	if (size < FMT_LINE_MAX)
		return 0;
	if (st->wallclock) {
		const char *hms = event_hms(st, e->ts_ns);

		n = (size_t)(put_str(buf, hms, strlen(hms), 9) - buf);
	}
	if (st->timestamp) {
		if (!st->have_first) {
			st->first_ts_ns = e->ts_ns;
			st->have_first = true;
		}
		/* bcc prints "%-9.3f", which runs into PID from 10000 s on. */
		n += clamp(snprintf(buf + n, size - n, "%-8.3f ",
				    (double)(__s64)(e->ts_ns - st->first_ts_ns) / 1e9), size - n);
	}
	p = buf + n;
	if (st->print_uid) {
		p = put_uint(p, e->uid, 6);
		*p++ = ' ';
	}
	/* "%-7u %-12.12s %-2d %-*s %-5u %-*s %-5u" */
	comm_len = escape_comm(comm, sizeof(comm), e->comm, sizeof(e->comm));
	fmt_addr(raddr, sizeof(raddr), e->family, e->raddr);
	fmt_addr(laddr, sizeof(laddr), e->family, e->laddr);
	p = put_uint(p, e->pid, 7);
	*p++ = ' ';
	p = put_str(p, comm, comm_len < 12 ? comm_len : 12, 12);
	*p++ = ' ';
	p = put_str(p, e->family == AF_INET6 ? "6" : "4", 1, 2);
	*p++ = ' ';
	if (st->print_proto) {
		const char *proto = proto_name(e->proto);

		p = put_str(p, proto, strlen(proto), 5);
		*p++ = ' ';
	}
	p = put_str(p, raddr, strlen(raddr), (size_t)w);
	*p++ = ' ';
	p = put_uint(p, e->rport, 5);
	*p++ = ' ';
	p = put_str(p, laddr, strlen(laddr), (size_t)w);
	*p++ = ' ';
	/* Padded only where a column follows: no line ends in a blank,
	 * so `grep ' 8080$'` finds the port. */
	p = put_uint(p, e->lport, st->queue ? 5 : 0);
	n = (size_t)(p - buf);
	if (st->queue) {
		char bl[24], wait[24];

		snprintf(bl, sizeof(bl), "%u/%u", e->backlog_len, e->backlog_max);
		if (e->wait_ns == WAIT_UNKNOWN)
			snprintf(wait, sizeof(wait), "-");
		else
			snprintf(wait, sizeof(wait), "%.3f", (double)e->wait_ns / 1e6);
		n += clamp(snprintf(buf + n, size - n, " %-11s %s", bl, wait), size - n);
	}
	buf[n++] = '\n';
	return n;
}

size_t fmt_count_header(const struct fmt_state *st, char *buf, size_t size)
{
	if (st->json)
		return 0;
	if (st->print_proto)
		return clamp(snprintf(buf, size, "%-7s %-12s %-2s %-5s %-*s %-5s %s\n", "PID",
				      "COMM", "IP", "PROTO", ADDR_WIDTH(st), "LADDR", "LPORT",
				      "ACCEPTS"), size);
	return clamp(snprintf(buf, size, "%-7s %-12s %-2s %-*s %-5s %s\n", "PID", "COMM", "IP",
			      ADDR_WIDTH(st), "LADDR", "LPORT", "ACCEPTS"), size);
}

size_t fmt_count_row(struct fmt_state *st, const struct count_key *key,
		     __u64 count, __u64 now_ns, char *buf, size_t size)
{
	char laddr[INET6_ADDRSTRLEN];
	int ip = key->labels.family == AF_INET6 ? 6 : 4;

	fmt_addr(laddr, sizeof(laddr), key->labels.family, key->labels.laddr);
	if (st->json) {
		char comm[6 * TASK_COMM_LEN + 1], ts[32];

		fmt_unix_time(ts, sizeof(ts), st, now_ns);
		json_escape(comm, sizeof(comm), key->labels.comm, sizeof(key->labels.comm));
		return clamp(snprintf(buf, size,
				      "{\"ts\":%s,\"pid\":%u,\"comm\":\"%s\",\"ip\":%d,"
				      "\"proto\":\"%s\",\"laddr\":\"%s\",\"lport\":%u,"
				      "\"accepts\":%llu}\n",
				      ts, key->pid, comm, ip, proto_name(key->labels.proto), laddr,
				      key->labels.lport, (unsigned long long)count), size);
	} else {
		char comm[4 * TASK_COMM_LEN + 1];

		escape_comm(comm, sizeof(comm), key->labels.comm, sizeof(key->labels.comm));
		if (st->print_proto)
			return clamp(snprintf(buf, size, "%-7u %-12.12s %-2d %-5s %-*s %-5u %llu\n",
					      key->pid, comm, ip, proto_name(key->labels.proto),
					      ADDR_WIDTH(st), laddr, key->labels.lport,
					      (unsigned long long)count), size);
		return clamp(snprintf(buf, size, "%-7u %-12.12s %-2d %-*s %-5u %llu\n", key->pid,
				      comm, ip, ADDR_WIDTH(st), laddr, key->labels.lport,
				      (unsigned long long)count), size);
	}
}
