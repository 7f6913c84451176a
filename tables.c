// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clocks.h"
#include "identity.h"
#include "log.h"
#include "output.h"
#include "series.h"
#include "tables.h"
#include "tcpaccept.skel.h"
#include "version.h"



struct count_row {
	struct count_key key;
	struct count_value counts;
	__u64 total;		/* of every kind: what the table is sorted by */
};

/* --- -x, --metrics: the listeners' own drop counters ------------------------- */

/* A listener the kernel side met (struct listener), as user space follows
 * it: its drops since first met, and how many of them -c has shown. */
struct listener_memo {
	__u64 addr, born_ns;
	struct count_key key;	/* the owner, the listener's labels */
	__u64 total;		/* drops since tcpaccept first met it */
	__u64 reported;		/* of those, in -c tables already */
	bool gone;		/* closed (or its entry reused): total is final */
	bool seen;
};

static struct listener_memo *memos;
static size_t nmemos, memos_cap;
/* --metrics: the drops of listeners gone, by local address and port. */
static struct listen_drops *gone_drops;
static size_t ngone, gone_cap;

static struct listener_memo *memo_of(__u64 addr, __u64 born_ns)
{
	for (size_t i = 0; i < nmemos; i++)
		if (memos[i].addr == addr && memos[i].born_ns == born_ns)
			return &memos[i];
	if (nmemos == memos_cap) {
		size_t cap = memos_cap ? 2 * memos_cap : 64;
		struct listener_memo *m = realloc(memos, cap * sizeof(*m));

		if (!m)
			return NULL;
		memos = m;
		memos_cap = cap;
	}
	memset(&memos[nmemos], 0, sizeof(memos[0]));
	memos[nmemos].addr = addr;
	memos[nmemos].born_ns = born_ns;
	return &memos[nmemos++];
}

static void listen_key_of(struct listen_key *k, const struct count_key *ck)
{
	memset(k, 0, sizeof(*k));
	k->family = ck->labels.family;
	k->lport = ck->labels.lport;
	memcpy(k->laddr, ck->labels.laddr, sizeof(k->laddr));
}

/* @n more drops for @key's local address and port in @rows (*@len of them,
 * room for @cap). */
static void add_drops(struct listen_drops **rows, size_t *len, size_t *cap,
		      const struct count_key *key, __u64 n)
{
	struct listen_key k;

	listen_key_of(&k, key);
	for (size_t i = 0; i < *len; i++)
		if (!memcmp(&(*rows)[i].key, &k, sizeof(k))) {
			(*rows)[i].drops += n;
			return;
		}
	if (*len == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		struct listen_drops *r = realloc(*rows, c * sizeof(*r));

		if (!r)
			return;
		*rows = r;
		*cap = c;
	}
	(*rows)[*len].key = k;
	(*rows)[(*len)++].drops = n;
}

static void memo_update(const struct listener *l, __u64 addr)
{
	struct listener_memo *m = memo_of(addr, l->born_ns);

	if (!m)
		return;
	m->key = l->key;
	m->total = l->drops > l->base ? l->drops - l->base : 0;
	m->seen = true;
	m->gone = l->closed;
}

/* Every listener's drop counter read now (tcpaccept.bpf.c's tp_sweep,
 * 5.13+; before, as of the last time the kernel side met it), then into
 * the memos, the closed ones taken out of closed_listeners. */
static void collect_listeners(struct tcpaccept_bpf *skel, const struct config *cfg)
{
	int fd = bpf_map__fd(skel->maps.listeners), cfd = bpf_map__fd(skel->maps.closed_listeners);
	__u64 key, next, *prev = NULL;
	struct closed_key ck;
	struct listener l;
	size_t keep = 0;

	listen(-1, 0);	/* fails with EBADF: what tp_sweep waits for */
	for (size_t i = 0; i < nmemos; i++)
		memos[i].seen = false;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &l) == 0)
			memo_update(&l, key);
	}
	/* Deleting as it goes: each next key is the map's first. */
	for (__u32 n = bpf_map__max_entries(skel->maps.closed_listeners);
	     n-- && bpf_map_get_next_key(cfd, NULL, &ck) == 0;) {
		if (bpf_map_lookup_elem(cfd, &ck, &l) == 0)
			memo_update(&l, ck.addr);
		bpf_map_delete_elem(cfd, &ck);
	}
	/* Gone for good once -c has shown all of them: --metrics keeps
	 * their drops by local address and port. */
	for (size_t i = 0; i < nmemos; i++) {
		struct listener_memo *m = &memos[i];

		if (!m->seen)
			m->gone = true;
		if (m->gone && (!cfg->count || m->reported == m->total)) {
			add_drops(&gone_drops, &ngone, &gone_cap, &m->key, m->total);
			continue;
		}
		memos[keep++] = *m;
	}
	nmemos = keep;
}

/* -c: the drops since the last table into @rows (*@n of them), each on
 * its listener's row: owner's PID and name, local address and port. */
static void count_drops(struct count_row *rows, long *n)
{
	for (size_t i = 0; i < nmemos; i++) {
		struct listener_memo *m = &memos[i];
		__u64 d = m->total - m->reported;
		long r;

		if (!d)
			continue;
		m->reported = m->total;
		for (r = 0; r < *n; r++)
			if (!memcmp(&rows[r].key, &m->key, sizeof(m->key)))
				break;
		if (r == *n) {
			memset(&rows[r], 0, sizeof(rows[r]));
			rows[r].key = m->key;
			(*n)++;
		}
		rows[r].counts.events[EVENT_DROP] += d;
		rows[r].total += d;
	}
}

/* --metrics: every listener's drops since first met, by local address and
 * port, the gone ones' included; sorted. */
static long drop_totals(struct listen_drops **out)
{
	struct listen_drops *rows = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < ngone; i++) {
		struct count_key k = { .labels = { .family = gone_drops[i].key.family,
						  .lport = gone_drops[i].key.lport } };

		memcpy(k.labels.laddr, gone_drops[i].key.laddr, sizeof(k.labels.laddr));
		add_drops(&rows, &n, &cap, &k, gone_drops[i].drops);
	}
	for (size_t i = 0; i < nmemos; i++)
		add_drops(&rows, &n, &cap, &memos[i].key, memos[i].total);
	*out = rows;
	return (long)n;
}

void tables_free(void)
{
	free(memos);
	free(gone_drops);
	memos = NULL;
	gone_drops = NULL;
	nmemos = memos_cap = ngone = gone_cap = 0;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct count_row *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->key.pid < y->key.pid ? -1 : x->key.pid > y->key.pid;
}

/* Takes every count out of the map @fd (at most @max) into @rows.
 * Lookup-and-delete in batches (5.6+): an accept counted meanwhile lands
 * in the next table rather than being lost. The number of rows, or -errno. */
static long take_counts(int fd, __u32 max, struct count_row *rows)
{
	struct count_key *keys = calloc(max, sizeof(*keys));
	struct count_value *values = calloc(max, sizeof(*values));
	void *in = NULL, *out_batch;
	__u32 n = 0, batch, token;
	int err = 0;

	if (!keys || !values) {
		err = -ENOMEM;
		goto done;
	}
	out_batch = &token;
	for (;;) {
		batch = max - n;
		err = bpf_map_lookup_and_delete_batch(fd, in, out_batch, keys + n, values + n,
						      &batch, NULL);
		n += batch;
		if (err) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
		in = out_batch;
		if (n >= max)
			break;
	}
	if (err) {
		warn("failed to read the counts: %s\n", strerror(-err));
		goto done;
	}
	for (__u32 i = 0; i < n; i++) {
		rows[i].key = keys[i];
		rows[i].counts = values[i];
		rows[i].total = 0;
		for (int k = 0; k < NR_EVENT_KINDS; k++)
			rows[i].total += values[i].events[k];
	}
done:
	free(keys);
	free(values);
	return err ? err : (long)n;
}

static void print_count_table(const struct config *cfg, struct fmt_state *fmt,
			      struct identity *ids, const struct count_row *rows, long n,
			      __u64 now, bool with_time)
{
	struct fmt_names names = {};
	size_t room;
	char *buf;

	if (with_time && !cfg->json) {
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
		buf = output_tail(&room);
		output_commit(strftime(buf, room, "%H:%M:%S\n", &tm));
	}
	buf = output_reserve(&room);
	output_commit(fmt_count_header(fmt, buf, room));
	for (long i = 0; i < n; i++) {
		buf = output_reserve(&room);
		if (ids)
			identity_names(ids, rows[i].key.labels.cgroup, &names);
		output_commit(fmt_count_row(fmt, &rows[i].key, &rows[i].counts, &names, now, buf,
					    room));
	}
	buf = output_tail(&room);
	if (with_time && !cfg->json && room > 0) {
		*buf = '\n';
		output_commit(1);
	}
	output_flush();
}

int tables_print_counts(struct tcpaccept_bpf *skel, const struct config *cfg, struct fmt_state *fmt,
			struct identity *ids, bool with_time, bool skip_if_empty)
{
	__u32 max = bpf_map__max_entries(skel->maps.counts);
	__u64 now = monotonic_ns();
	struct count_row *rows;
	long n;

	if (cfg->failed)
		collect_listeners(skel, cfg);
	/* Room for a row of drops per listener too. */
	rows = calloc(max + nmemos, sizeof(*rows));
	n = rows ? take_counts(bpf_map__fd(skel->maps.counts), max, rows) : -ENOMEM;
	if (n >= 0 && cfg->failed)
		count_drops(rows, &n);

	if (n > 0 || (n == 0 && !skip_if_empty)) {
		qsort(rows, (size_t)n, sizeof(*rows), by_count_desc);
		print_count_table(cfg, fmt, ids, rows, n, now, with_time);
	}
	free(rows);
	return n < 0 ? (int)n : 0;
}

/* --- --metrics and -c -q: the cumulative kernel maps ------------------------ */

/* Every entry of the hash map @fd (keys of @key_size bytes) into @rows,
 * each row the key followed at @value_off by the value; at most @max.
 * Returns the count. */
static long read_hash(int fd, size_t key_size, size_t value_off, size_t row_size,
		      void *rows, size_t max)
{
	char key[64], next[64];
	size_t n = 0;
	void *prev = NULL;

	while (n < max && bpf_map_get_next_key(fd, prev, next) == 0) {
		char *row = (char *)rows + n * row_size;

		memcpy(key, next, key_size);
		prev = key;
		memcpy(row, key, key_size);
		/* Deleted meanwhile: skip it (these maps only grow). */
		if (bpf_map_lookup_elem(fd, key, row + value_off) == 0)
			n++;
	}
	return (long)n;
}

static int by_listen_key(const void *a, const void *b)
{
	return memcmp(&((const struct listen_series *)a)->key,
		      &((const struct listen_series *)b)->key, sizeof(struct listen_key));
}

static long read_listeners(struct tcpaccept_bpf *skel, struct listen_series **out_rows)
{
	size_t max = bpf_map__max_entries(skel->maps.listen_stats);
	struct listen_series *rows = calloc(max, sizeof(*rows));
	long n;

	*out_rows = rows;
	if (!rows)
		return -ENOMEM;
	n = read_hash(bpf_map__fd(skel->maps.listen_stats), sizeof(struct listen_key),
		      offsetof(struct listen_series, st), sizeof(*rows), rows, max);
	qsort(rows, (size_t)n, sizeof(*rows), by_listen_key);
	return n;
}

/* --- --metrics: series that give their place back (series.c) ------------- */

_Static_assert(sizeof(struct accept_labels) <= SERIES_KEY_MAX &&
	       sizeof(struct listen_key) <= SERIES_KEY_MAX, "series keys fit");

static struct series_ages total_ages = { .key_size = sizeof(struct accept_labels) };
static struct series_ages listen_ages = { .key_size = sizeof(struct listen_key) };

static __u64 total_activity(const void *row)
{
	const struct metric_series *m = row;
	__u64 sum = 0;

	for (int k = 0; k < NR_EVENT_KINDS; k++)
		sum += m->counts.events[k];
	return sum;
}

static __u64 listen_activity(const void *row)
{
	const struct listen_series *l = row;

	return l->st.wait_count + l->st.wait_unknown;	/* one of them per accept */
}

struct map_row {
	int fd;
	size_t value_off, value_size;
};

/* Deletes the series @row (its key first) from the map; if an accept was
 * counted since the row was read, the value goes back in and the series
 * stays (false). */
static bool evict_from_map(const void *row, void *ctx)
{
	const struct map_row *m = ctx;
	char now[sizeof(struct listen_stats)];

	_Static_assert(sizeof(struct count_value) <= sizeof(now), "values fit");
	if (bpf_map_lookup_and_delete_elem(m->fd, row, now)) {
		/* Hash maps take lookup-and-delete from 5.14. */
		return bpf_map_delete_elem(m->fd, row) == 0;
	}
	if (!memcmp(now, (const char *)row + m->value_off, m->value_size))
		return true;
	bpf_map_update_elem(m->fd, row, now, BPF_NOEXIST);
	return false;
}

/* The series of either metric that were idle while it turned accepts
 * away leave the maps and the rows read (*@n, *@nl of them; < 0: not
 * read). */
static void give_back_idle(struct tcpaccept_bpf *skel, struct metric_series *totals, long *n,
			   struct listen_series *listeners, long *nl)
{
	struct map_row t = { bpf_map__fd(skel->maps.metric_totals),
			     offsetof(struct metric_series, counts), sizeof(struct count_value) };
	struct map_row l = { bpf_map__fd(skel->maps.listen_stats),
			     offsetof(struct listen_series, st), sizeof(struct listen_stats) };

	if (*n >= 0)
		*n = series_give_back(&total_ages, totals, (size_t)*n, sizeof(*totals),
				      total_activity,
				      __atomic_load_n(&skel->bss->metric_overflow, __ATOMIC_RELAXED),
				      evict_from_map, &t);
	if (*nl >= 0)
		*nl = series_give_back(&listen_ages, listeners, (size_t)*nl, sizeof(*listeners),
				       listen_activity,
				       __atomic_load_n(&skel->bss->listen_overflow, __ATOMIC_RELAXED),
				       evict_from_map, &l);
}

/* --metrics-labels: each series' container and unit, then one series per
 * label set. The count of series left. */
static long name_series(struct identity *ids, const struct config *cfg,
			struct metric_series *totals, long n)
{
	struct fmt_names names;

	for (long i = 0; i < n; i++) {
		identity_names(ids, totals[i].key.cgroup, &names);
		if (cfg->label_container && names.container)
			totals[i].container = strdup(names.container);
		if (cfg->label_unit && names.unit)
			totals[i].unit = strdup(names.unit);
	}
	return (long)metrics_merge_series(totals, (size_t)n);
}

static void free_series_names(struct metric_series *totals, long n)
{
	for (long i = 0; i < n; i++) {
		free(totals[i].container);
		free(totals[i].unit);
	}
}

/* The tool's own figures, for a metrics write. */
static void read_health(struct tcpaccept_bpf *skel, const struct config *cfg,
			struct metrics_snapshot *snap)
{
	snap->lost = __atomic_load_n(&skel->bss->lost, __ATOMIC_RELAXED);
	snap->unwritten = output_unwritten();
	snap->count_overflow = __atomic_load_n(&skel->bss->count_overflow, __ATOMIC_RELAXED);
	snap->totals_overflow = __atomic_load_n(&skel->bss->metric_overflow, __ATOMIC_RELAXED);
	snap->listen_overflow = __atomic_load_n(&skel->bss->listen_overflow, __ATOMIC_RELAXED);
	snap->listeners_overflow = __atomic_load_n(&skel->bss->listeners_overflow, __ATOMIC_RELAXED);
	snap->outside_pidns = __atomic_load_n(&skel->bss->outside_pidns, __ATOMIC_RELAXED);
	snap->totals_evicted = total_ages.evicted;
	snap->listen_evicted = listen_ages.evicted;
	snap->max_series = cfg->max_series;
	snap->label_container = cfg->label_container;
	snap->label_unit = cfg->label_unit;
	snap->version = TCPACCEPT_VERSION;
	snap->libbpf = TCPACCEPT_LIBBPF_VERSION;
	snap->now = unix_now();
}

int tables_write_metrics(struct tcpaccept_bpf *skel, const struct config *cfg,
			 struct identity *ids, const char *way, double start)
{
	size_t max = bpf_map__max_entries(skel->maps.metric_totals), len = 0;
	struct metric_series *totals = calloc(max, sizeof(*totals));
	struct listen_series *listeners = NULL;
	struct listen_drops *drops = NULL;
	struct metrics_snapshot snap = {};
	__u32 epoch = skel->bss->metrics_epoch;
	char *text = NULL;
	long n, nl;
	FILE *f;
	int err;

	collect_listeners(skel, cfg);
	n = totals ? read_hash(bpf_map__fd(skel->maps.metric_totals), sizeof(struct accept_labels),
			       offsetof(struct metric_series, counts), sizeof(*totals),
			       totals, max) : -ENOMEM;
	nl = read_listeners(skel, &listeners);
	/* The next interval's peaks start from here. */
	__atomic_store_n(&skel->bss->metrics_epoch, epoch + 1, __ATOMIC_RELAXED);
	give_back_idle(skel, totals, &n, listeners, &nl);
	/* After: the kernel's series are per cgroup, the labels' need not be. */
	if (n > 0 && ids && (cfg->label_container || cfg->label_unit))
		n = name_series(ids, cfg, totals, n);
	if (n < 0 || nl < 0) {
		err = -ENOMEM;
		goto done;
	}
	for (long i = 0; i < nl; i++)
		listeners[i].peak_valid = listeners[i].st.peak_epoch == epoch;
	snap.totals = totals;
	snap.ntotals = (size_t)n;
	snap.listeners = listeners;
	snap.nlisteners = (size_t)nl;
	snap.ndrops = drop_totals(&drops);
	snap.drops = drops;
	read_health(skel, cfg, &snap);
	snap.way = way;
	snap.start = start;
	f = open_memstream(&text, &len);
	if (!f) {
		err = -errno;
		goto done;
	}
	metrics_format(f, &snap);
	err = fclose(f) ? -errno : 0;
	if (!err)
		err = metrics_write_file(cfg->metrics, text, len);
done:
	if (err)
		warn("failed to write the metrics to '%s': %s\n", cfg->metrics, strerror(-err));
	free(text);
	if (n > 0)
		free_series_names(totals, n);
	free(totals);
	free(listeners);
	free(drops);
	return err;
}

int tables_print_hists(struct tcpaccept_bpf *skel, const struct config *cfg, struct hist_prev *prev)
{
	struct listen_series *rows = NULL;
	long n = read_listeners(skel, &rows);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (n < 0 || !(f = open_memstream(&text, &len))) {
		free(rows);
		warn("failed to read the wait histograms: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (long i = 0; i < n; i++) {
		struct listen_series l = rows[i];
		const struct listen_series *before = prev->rows ?
			bsearch(&l, prev->rows, (size_t)prev->n, sizeof(l), by_listen_key) : NULL;

		if (before)
			metrics_stats_sub(&l.st, &before->st);
		if (!l.st.wait_count && !l.st.wait_unknown)
			continue;
		if (cfg->json)
			metrics_hist_json(f, &l, unix_now());
		else
			metrics_hist_print(f, &l);
	}
	fclose(f);
	output_append(text, len);
	output_flush();
	free(text);
	free(prev->rows);
	prev->rows = rows;
	prev->n = n;
	return 0;
}
