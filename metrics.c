// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "format.h"
#include "log.h"
#include "metrics.h"
#include "series.h"

size_t metrics_escape_label(char *out, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < len && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[5];
		size_t elen;

		if (c == '\\' || c == '"') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			elen = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			esc[0] = (char)c;
			elen = 1;
		} else {
			/* The value read back is \xHH, as the -c table shows it. */
			esc[0] = '\\';
			esc[1] = '\\';
			esc[2] = 'x';
			esc[3] = hex[c >> 4];
			esc[4] = hex[c & 0xf];
			elen = 5;
		}
		if (n + elen >= size)
			break;
		memcpy(out + n, esc, elen);
		n += elen;
	}
	out[n] = '\0';
	return n;
}

/* "le" exactly: 2^(slot+1) microseconds as decimal seconds. */
static void fmt_le(char *out, size_t size, unsigned int slot)
{
	unsigned long long us = 1ULL << (slot + 1);
	int n = snprintf(out, size, "%llu.%06llu", us / 1000000, us % 1000000);

	while (n > 2 && out[n - 1] == '0' && out[n - 2] != '.')
		out[--n] = '\0';
}

static void help_type(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* laddr="...",lport="..." */
static void listen_labels(char *out, size_t size, __u16 family, const __u8 laddr[16], __u16 lport)
{
	char addr[64];

	fmt_addr(addr, sizeof(addr), family, laddr);
	snprintf(out, size, "laddr=\"%s\",lport=\"%u\"", addr, lport);
}

/* ,NAME="VALUE" for an opt-in label (nothing if not asked for); "" for a
 * series that has none. */
static void opt_label(FILE *f, bool asked, const char *name, const char *value)
{
	char text[5 * 256 + 1];	/* a unit name of \xHH escapes */

	if (!asked)
		return;
	metrics_escape_label(text, sizeof(text), value ? value : "", value ? strlen(value) : 0);
	fprintf(f, ",%s=\"%s\"", name, text);
}

/* The series of @kind among the totals: accepts by task name, IP version,
 * local address and port (and container, unit with --metrics-labels);
 * errors by the same and the errno's name. */
static void format_kind_totals(FILE *f, const struct metrics_snapshot *s, const char *name,
			       unsigned int kind)
{
	for (size_t i = 0; i < s->ntotals; i++) {
		const struct metric_series *m = &s->totals[i];
		const struct accept_labels *k = &m->key;
		char comm[4 * TASK_COMM_LEN + 1], label[2 * sizeof(comm) + 1], addr[64], e[24];
		unsigned long long v = m->counts.events[kind];

		if (!v)
			continue;
		fmt_escape_comm(comm, sizeof(comm), k->comm, sizeof(k->comm));
		metrics_escape_label(label, sizeof(label), comm, sizeof(comm));
		fmt_addr(addr, sizeof(addr), k->family, k->laddr);
		fprintf(f, "%s{comm=\"%s\"", name, label);
		opt_label(f, s->label_container, "container", m->container);
		if (fmt_kind_traits(kind) & KIND_ERRNO)
			fprintf(f, ",errno=\"%s\"", fmt_errno_name(e, sizeof(e), k->err));
		fprintf(f, ",ip=\"%d\",laddr=\"%s\",lport=\"%u\",proto=\"%s\"", k->family == AF_INET6 ? 6 : 4,
			addr, k->lport, fmt_proto_name(k->proto));
		opt_label(f, s->label_unit, "unit", m->unit);
		fprintf(f, "} %llu\n", v);
	}
}

static void format_totals(FILE *f, const struct metrics_snapshot *s)
{
	help_type(f, "tcpaccept_accepts_total", "counter",
		  "Successful TCP accept()s since tcpaccept started, by task name, IP version, local address and port (and container, unit with --metrics-labels).");
	format_kind_totals(f, s, "tcpaccept_accepts_total", EVENT_ACCEPT);
	help_type(f, "tcpaccept_accept_errors_total", "counter",
		  "Failed accept() calls on TCP and MPTCP listeners since tcpaccept started (not EAGAIN, EINTR), by task name, errno, IP version, local address and port (and container, unit with --metrics-labels).");
	format_kind_totals(f, s, "tcpaccept_accept_errors_total", EVENT_ERROR);
	help_type(f, "tcpaccept_listen_drops_total", "counter",
		  "Connection attempts the listener dropped (its own drop counter, ss -tlm's d) since tcpaccept first met it (listen() or accept() while tracing: all of them), by local address and port.");
	for (long i = 0; i < s->ndrops; i++) {
		char labels[128];

		listen_labels(labels, sizeof(labels), s->drops[i].key.family, s->drops[i].key.laddr,
			      s->drops[i].key.lport);
		fprintf(f, "tcpaccept_listen_drops_total{%s} %llu\n", labels,
			(unsigned long long)s->drops[i].drops);
	}
}

static int text_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* The labels of two series, cgroup aside. */
static int by_labels(const void *pa, const void *pb)
{
	const struct metric_series *a = pa, *b = pb;
	struct accept_labels x = a->key, y = b->key;
	int d;

	x.cgroup = y.cgroup = 0;
	d = memcmp(&x, &y, sizeof(x));
	if (!d)
		d = text_cmp(a->container, b->container);
	return d ? d : text_cmp(a->unit, b->unit);
}

size_t metrics_merge_series(struct metric_series *s, size_t n)
{
	size_t out = 0;

	qsort(s, n, sizeof(*s), by_labels);
	for (size_t i = 0; i < n; i++) {
		if (out && !by_labels(&s[out - 1], &s[i])) {
			for (int k = 0; k < NR_EVENT_KINDS; k++)
				s[out - 1].counts.events[k] += s[i].counts.events[k];
			free(s[i].container);
			free(s[i].unit);
			continue;
		}
		s[out++] = s[i];
	}
	return out;
}

static void format_hist(FILE *f, const struct metrics_snapshot *s)
{
	help_type(f, "tcpaccept_accept_wait_seconds", "histogram",
		  "Time from the completed handshake to accept(), per local address and port (log2 buckets).");
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct listen_series *l = &s->listeners[i];
		unsigned long long cum = 0;
		char labels[128], le[32];

		listen_labels(labels, sizeof(labels), l->key.family, l->key.laddr, l->key.lport);
		/* The last slot is open-ended: only +Inf holds it. */
		for (unsigned int slot = 0; slot < WAIT_SLOTS - 1; slot++) {
			cum += l->st.slots[slot];
			fmt_le(le, sizeof(le), slot);
			fprintf(f, "tcpaccept_accept_wait_seconds_bucket{%s,le=\"%s\"} %llu\n",
				labels, le, cum);
		}
		/* +Inf and _count from the slots, not from wait_count: the
		 * value was read while the kernel may have been between its
		 * two additions, and a bucket must never exceed +Inf. */
		cum += l->st.slots[WAIT_SLOTS - 1];
		fprintf(f, "tcpaccept_accept_wait_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels, cum);
		fprintf(f, "tcpaccept_accept_wait_seconds_sum{%s} %.9f\n", labels,
			(double)l->st.wait_sum_ns / 1e9);
		fprintf(f, "tcpaccept_accept_wait_seconds_count{%s} %llu\n", labels, cum);
	}
}

/* One value per listener: @what picks it. */
static void format_listen_metric(FILE *f, const struct metrics_snapshot *s, const char *name,
				 const char *type, const char *help, int what)
{
	help_type(f, name, type, help);
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct listen_series *l = &s->listeners[i];
		unsigned long long v;
		char labels[128];

		switch (what) {
		case 0: v = l->st.wait_unknown; break;
		case 1: v = l->st.backlog; break;
		case 2: v = l->st.backlog_max; break;
		default: v = l->peak_valid ? l->st.peak : l->st.backlog; break;
		}
		listen_labels(labels, sizeof(labels), l->key.family, l->key.laddr, l->key.lport);
		fprintf(f, "%s{%s} %llu\n", name, labels, v);
	}
}

static void format_health(FILE *f, const struct metrics_snapshot *s)
{
	char version[64], libbpf[64], way[64];

	help_type(f, "tcpaccept_lost_events_total", "counter",
		  "Events dropped because the ring buffer was full (rows only; counts and histograms are kept in the kernel).");
	fprintf(f, "tcpaccept_lost_events_total %llu\n", (unsigned long long)s->lost);
	help_type(f, "tcpaccept_unwritten_rows_total", "counter",
		  "Rows that could not be written to the output (its disk full) and were dropped.");
	fprintf(f, "tcpaccept_unwritten_rows_total %llu\n", (unsigned long long)s->unwritten);
	help_type(f, "tcpaccept_count_overflow_total", "counter",
		  "Accepts not counted by -c because its table (" STR(COUNT_MAX_ENTRIES) " keys) was full.");
	fprintf(f, "tcpaccept_count_overflow_total %llu\n", (unsigned long long)s->count_overflow);
	help_type(f, "tcpaccept_series_overflow_total", "counter",
		  "Accepts left out of a metric because it already had --metrics-max-series label sets.");
	fprintf(f, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accepts_total\"} %llu\n",
		(unsigned long long)s->totals_overflow);
	fprintf(f, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accept_wait_seconds\"} %llu\n",
		(unsigned long long)s->listen_overflow);
	fprintf(f, "tcpaccept_series_overflow_total{metric=\"tcpaccept_listen_drops_total\"} %llu\n",
		(unsigned long long)s->listeners_overflow);
	help_type(f, "tcpaccept_outside_pid_namespace_total", "counter",
		  "accept() calls of processes outside tcpaccept's PID namespace, not traced (as its ps does not show them).");
	fprintf(f, "tcpaccept_outside_pid_namespace_total %llu\n", (unsigned long long)s->outside_pidns);
	help_type(f, "tcpaccept_series_evicted_total", "counter",
		  "Label sets removed from a full metric to make room: idle for " STR(SERIES_IDLE_WRITES) " writes while accepts were left out.");
	fprintf(f, "tcpaccept_series_evicted_total{metric=\"tcpaccept_accepts_total\"} %llu\n",
		(unsigned long long)s->totals_evicted);
	fprintf(f, "tcpaccept_series_evicted_total{metric=\"tcpaccept_accept_wait_seconds\"} %llu\n",
		(unsigned long long)s->listen_evicted);
	help_type(f, "tcpaccept_max_series", "gauge", "The cap on label sets per metric (--metrics-max-series).");
	fprintf(f, "tcpaccept_max_series %u\n", s->max_series);
	metrics_escape_label(version, sizeof(version), s->version, strlen(s->version));
	metrics_escape_label(libbpf, sizeof(libbpf), s->libbpf, strlen(s->libbpf));
	metrics_escape_label(way, sizeof(way), s->way, strlen(s->way));
	help_type(f, "tcpaccept_info", "gauge", "Always 1: the tcpaccept and libbpf versions and the way into the kernel.");
	fprintf(f, "tcpaccept_info{version=\"%s\",libbpf=\"%s\",way=\"%s\"} 1\n", version, libbpf, way);
	help_type(f, "tcpaccept_start_time_seconds", "gauge", "When tracing started, in seconds since the Epoch.");
	fprintf(f, "tcpaccept_start_time_seconds %.3f\n", s->start);
	help_type(f, "tcpaccept_metrics_timestamp_seconds", "gauge",
		  "When this file was written, in seconds since the Epoch (stale if it stops moving).");
	fprintf(f, "tcpaccept_metrics_timestamp_seconds %.3f\n", s->now);
}

void metrics_format(FILE *f, const struct metrics_snapshot *s)
{
	format_totals(f, s);
	format_hist(f, s);
	format_listen_metric(f, s, "tcpaccept_accept_wait_unknown_total", "counter",
			     "Accepts whose handshake tcpaccept did not see (before it started), not in the histogram.", 0);
	format_listen_metric(f, s, "tcpaccept_listen_backlog", "gauge",
			     "The listener's accept queue length after the last accept.", 1);
	format_listen_metric(f, s, "tcpaccept_listen_backlog_max", "gauge",
			     "The listener's accept queue limit (listen() backlog, capped by somaxconn).", 2);
	format_listen_metric(f, s, "tcpaccept_listen_backlog_peak", "gauge",
			     "The longest accept queue seen after an accept in the last interval.", 3);
	format_health(f, s);
}

/* --- -c -q: the histogram in the terminal ------------------------------------ */

static int last_slot(const struct listen_stats *st)
{
	int last = -1;

	for (int i = 0; i < WAIT_SLOTS; i++)
		if (st->slots[i])
			last = i;
	return last;
}

static void slot_range(unsigned int slot, unsigned long long *low, unsigned long long *high)
{
	*low = slot ? 1ULL << slot : 0;
	*high = (1ULL << (slot + 1)) - 1;
}

void metrics_hist_print(FILE *f, const struct listen_series *l)
{
	const int width = 40;
	int last = last_slot(&l->st);
	unsigned long long max = 0, low, high;
	char addr[64];

	fmt_addr(addr, sizeof(addr), l->key.family, l->key.laddr);
	fprintf(f, "\nWAIT for %s port %u: %llu accepts, %llu with an unknown wait\n", addr,
		l->key.lport, (unsigned long long)l->st.wait_count,
		(unsigned long long)l->st.wait_unknown);
	if (last < 0)
		return;
	for (int i = 0; i <= last; i++)
		if (l->st.slots[i] > max)
			max = l->st.slots[i];
	fprintf(f, "%5s%-19s : count    distribution\n", "", "usecs");
	for (int i = 0; i <= last; i++) {
		unsigned long long v = l->st.slots[i];
		int stars = (int)(v * width / max);

		slot_range((unsigned int)i, &low, &high);
		if (i == WAIT_SLOTS - 1)
			fprintf(f, "%10llu -> %-10s : %-8llu |", low, "inf", v);
		else
			fprintf(f, "%10llu -> %-10llu : %-8llu |", low, high, v);
		for (int s = 0; s < width; s++)
			fputc(s < stars ? '*' : ' ', f);
		fputs("|\n", f);
	}
}

void metrics_hist_json(FILE *f, const struct listen_series *l, double ts)
{
	int last = last_slot(&l->st);
	unsigned long long low, high;
	char addr[64];

	fmt_addr(addr, sizeof(addr), l->key.family, l->key.laddr);
	fprintf(f, "{\"ts\":%.6f,\"ip\":%d,\"laddr\":\"%s\",\"lport\":%u,\"unit\":\"usecs\","
		"\"count\":%llu,\"sum_us\":%.3f,\"unknown\":%llu,\"buckets\":[",
		ts, l->key.family == AF_INET6 ? 6 : 4, addr, l->key.lport,
		(unsigned long long)l->st.wait_count, (double)l->st.wait_sum_ns / 1e3,
		(unsigned long long)l->st.wait_unknown);
	for (int i = 0; i <= last; i++) {
		slot_range((unsigned int)i, &low, &high);
		if (i == WAIT_SLOTS - 1)
			fprintf(f, "%s{\"low\":%llu,\"high\":null,\"count\":%llu}", i ? "," : "", low,
				(unsigned long long)l->st.slots[i]);
		else
			fprintf(f, "%s{\"low\":%llu,\"high\":%llu,\"count\":%llu}", i ? "," : "", low,
				high, (unsigned long long)l->st.slots[i]);
	}
	fputs("]}\n", f);
}

void metrics_stats_sub(struct listen_stats *after, const struct listen_stats *before)
{
	/* Fewer than before: the series was given back and made again
	 * (series.c), everything in it is new. */
	if (after->wait_count < before->wait_count || after->wait_unknown < before->wait_unknown)
		return;
	for (int i = 0; i < WAIT_SLOTS; i++)
		after->slots[i] -= before->slots[i];
	after->wait_sum_ns -= before->wait_sum_ns;
	after->wait_count -= before->wait_count;
	after->wait_unknown -= before->wait_unknown;
}

/* --- the atomic write ------------------------------------------------------ */

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A name node_exporter's textfile collector skips (it reads *.prom):
 * PATH.tmp.XXXXXX, mkostemp()'s six letters and digits. */
#define TMP_SUFFIX ".tmp."
#define TMP_RANDOM 6

int metrics_write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, err;

	if (snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX "XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Held until the rename: metrics_remove_stale() leaves a locked
	 * temporary file alone, it is another tcpaccept's write. */
	flock(fd, LOCK_EX | LOCK_NB);
	err = write_all(fd, data, len);
	/* mkostemp makes 0600; node_exporter may run as another user. */
	if (!err && fchmod(fd, 0644))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	/* The rename itself, durable. */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Whether @name is @base's temporary name: base.tmp.XXXXXX. */
static bool tmp_name_of(const char *name, const char *base)
{
	size_t blen = strlen(base), slen = strlen(TMP_SUFFIX);

	if (strncmp(name, base, blen) || strncmp(name + blen, TMP_SUFFIX, slen) ||
	    strlen(name + blen + slen) != TMP_RANDOM)
		return false;
	for (const char *p = name + blen + slen; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

/* Removes @name in @dfd if it is a file a killed write left: ours, regular,
 * one link, and no live writer holds its lock. */
static void remove_if_stale(int dfd, const char *name)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlinkat(dfd, name, 0);
	close(fd);
}

void metrics_remove_stale(const char *path)
{
	char dir[PATH_MAX], copy[PATH_MAX];
	const char *base;
	struct dirent *d;
	DIR *dp;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	snprintf(copy, sizeof(copy), "%s", path);
	base = basename(copy);
	dp = opendir(dirname(dir));
	if (!dp)
		return;	/* the first write says what is wrong with the path */
	while ((d = readdir(dp)))
		if (tmp_name_of(d->d_name, base))
			remove_if_stale(dirfd(dp), d->d_name);
	closedir(dp);
}
