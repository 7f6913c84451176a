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

size_t escape_comm(char *out, size_t size, const char *comm, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < len && comm[i]; i++) {
		unsigned char c = (unsigned char)comm[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (n + 1 >= size)
				break;
			out[n++] = (char)c;
		} else {
			if (n + 4 >= size)
				break;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 0xf];
		}
	}
	out[n] = '\0';
	return n;
}

void fmt_addr(char *out, size_t size, int family, const __u8 addr[16])
{
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

size_t fmt_header(const struct fmt_state *st, char *buf, size_t size)
{
	size_t n = 0;

	if (st->wallclock)
		n += clamp(snprintf(buf + n, size - n, "%-9s", "TIME"), size - n);
	if (st->timestamp)
		n += clamp(snprintf(buf + n, size - n, "%-9s", "TIME(s)"), size - n);
	n += clamp(snprintf(buf + n, size - n, "%-7s %-12s %-2s %-16s %-5s %-16s %-5s\n",
			    "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"), size - n);
	return n;
}

size_t fmt_event(struct fmt_state *st, const struct event *e, char *buf,
		 size_t size)
{
	char comm[4 * TASK_COMM_LEN + 1];
	char raddr[INET6_ADDRSTRLEN], laddr[INET6_ADDRSTRLEN];
	size_t n = 0;

	if (st->wallclock)
		n += clamp(snprintf(buf + n, size - n, "%-9s", event_hms(st, e->ts_ns)), size - n);
	if (st->timestamp) {
		if (!st->have_first) {
			st->first_ts_ns = e->ts_ns;
			st->have_first = true;
		}
		n += clamp(snprintf(buf + n, size - n, "%-9.3f",
				    (double)(__s64)(e->ts_ns - st->first_ts_ns) / 1e9), size - n);
	}
	escape_comm(comm, sizeof(comm), e->comm, sizeof(e->comm));
	fmt_addr(raddr, sizeof(raddr), e->family, e->raddr);
	fmt_addr(laddr, sizeof(laddr), e->family, e->laddr);
	n += clamp(snprintf(buf + n, size - n, "%-7u %-12.12s %-2d %-16s %-5u %-16s %-5u\n",
			    e->pid, comm, e->family == AF_INET6 ? 6 : 4,
			    raddr, e->rport, laddr, e->lport), size - n);
	return n;
}
