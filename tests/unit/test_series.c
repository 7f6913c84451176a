// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: which series give their place in a full metric back (series.c). */
#include <stdbool.h>
#include <string.h>
#include "series.h"
#include "unit.h"

#define N 4

/* Four series, keys "a".."d" (given out of order); their counts. */
static const char *const keys[N] = { "c", "a", "d", "b" };

static long write_once(struct series_ages *a, const __u64 *counts, size_t n, __u64 overflow,
		       bool *evict)
{
	struct series_seen seen[N];

	for (size_t i = 0; i < n; i++) {
		seen[i].key = keys[i];
		seen[i].activity = counts[i];
	}
	return series_age(a, seen, n, overflow, evict);
}

TEST(series_idle_kept_without_pressure)
{
	struct series_ages a = { .key_size = 2 };
	__u64 counts[N] = { 1, 1, 1, 1 };
	bool evict[N];

	/* Idle for ever, but nobody was refused: every series stays. */
	for (int w = 0; w < 10; w++)
		CHECK(write_once(&a, counts, N, 0, evict) == 0 && !evict[0] && !evict[3],
		      "write %d: evicted without pressure", w);
	CHECK(a.n == N, "all four still tracked: %zu", a.n);
	series_free(&a);
}

TEST(series_idle_evicted_under_pressure)
{
	struct series_ages a = { .key_size = 2 };
	__u64 counts[N] = { 5, 5, 5, 5 };
	bool evict[N];

	/* Write 0 sees them new; writes 1, 2 and 3 find them unchanged. */
	for (int w = 0; w < SERIES_IDLE_WRITES; w++)
		write_once(&a, counts, N, 0, evict);
	/* "c" and "d" counted accepts meanwhile; the metric refused one. */
	counts[0] = 6;
	counts[2] = 9;
	CHECK(write_once(&a, counts, N, 1, evict) == 2, "two idle series evicted");
	CHECK(!evict[0] && evict[1] && !evict[2] && evict[3], "a and b go: %d%d%d%d",
	      evict[0], evict[1], evict[2], evict[3]);
	CHECK(a.n == 2, "the evicted are forgotten: %zu", a.n);
	/* Overflow still moving, but c and d were active one write ago. */
	CHECK(write_once(&a, counts, 3, 2, evict) == 0 && !evict[0] && !evict[2],
	      "active a write ago: kept");
	/* "a" comes back (a new series, 0 idle): not evicted at once. */
	CHECK(write_once(&a, counts, N, 3, evict) == 0 && !evict[1], "a returning is new");
	series_free(&a);
}

TEST(series_pressure_is_overflow_since_the_last_write)
{
	struct series_ages a = { .key_size = 2 };
	__u64 counts[N] = { 1, 1, 1, 1 };
	bool evict[N];

	/* The overflow is 7 from the start (before the series were idle):
	 * once it stops moving there is no pressure, however idle. */
	for (int w = 0; w <= SERIES_IDLE_WRITES + 2; w++)
		write_once(&a, counts, N, 7, evict);
	CHECK(!evict[0] && !evict[1] && !evict[2] && !evict[3], "old overflow is no pressure");
	CHECK(write_once(&a, counts, N, 8, evict) == N, "new overflow: all four idle go");
	CHECK(a.n == 0, "none tracked");
	/* Exactly SERIES_IDLE_WRITES writes idle is enough; one less is not. */
	for (int w = 0; w < SERIES_IDLE_WRITES; w++)
		CHECK(write_once(&a, counts, 1, 8, evict) == 0, "write %d", w);
	CHECK(write_once(&a, counts, 1, 8, evict) == 0, "no pressure");
	series_free(&a);
	for (int w = 0; w < SERIES_IDLE_WRITES; w++)
		write_once(&a, counts, 1, 8, evict);
	CHECK(write_once(&a, counts, 1, 9, evict) == 1 && evict[0], "idle %d writes: evicted",
	      SERIES_IDLE_WRITES);
	series_free(&a);
}

TEST(series_keys_compared_whole)
{
	/* Keys that differ only in their last byte, and binary ones. */
	struct series_ages a = { .key_size = SERIES_KEY_MAX };
	__u8 k1[SERIES_KEY_MAX] = { 0 }, k2[SERIES_KEY_MAX] = { 0 };
	struct series_seen seen[2] = { { k1, 1 }, { k2, 1 } };
	bool evict[2];

	k2[SERIES_KEY_MAX - 1] = 1;
	for (int w = 0; w < SERIES_IDLE_WRITES; w++)
		series_age(&a, seen, 2, 0, evict);
	seen[1].activity = 2;
	CHECK(series_age(&a, seen, 2, 1, evict) == 1 && evict[0] && !evict[1],
	      "k1 idle, k2 active: %d %d", evict[0], evict[1]);
	CHECK(series_age(&a, seen, 0, 2, evict) == 0 && a.n == 0, "an empty metric");
	series_free(&a);
}

struct row {
	char key[4];
	__u64 count;
};

static __u64 row_count(const void *r)
{
	return ((const struct row *)r)->count;
}

/* Evicts all but "b", which an accept "put back" meanwhile. */
static bool evict_but_b(const void *r, void *ctx)
{
	++*(int *)ctx;
	return strcmp(((const struct row *)r)->key, "b") != 0;
}

TEST(series_give_back_compacts_rows)
{
	struct series_ages a = { .key_size = sizeof(((struct row *)0)->key) };
	struct row rows[4] = { { "a", 1 }, { "b", 2 }, { "c", 3 }, { "d", 4 } };
	int calls = 0;
	long n = 4;

	for (int w = 0; w < SERIES_IDLE_WRITES; w++)
		n = series_give_back(&a, rows, 4, sizeof(rows[0]), row_count, 0, evict_but_b, &calls);
	CHECK(n == 4 && calls == 0, "no pressure: %ld rows, %d calls", n, calls);
	rows[2].count = 30;	/* "c" is active */
	n = series_give_back(&a, rows, 4, sizeof(rows[0]), row_count, 5, evict_but_b, &calls);
	CHECK(calls == 3, "a, b and d idle: %d calls", calls);
	CHECK(n == 2 && !strcmp(rows[0].key, "b") && !strcmp(rows[1].key, "c") && rows[1].count == 30,
	      "b (put back) and c left, in order: %ld, %s %s", n, rows[0].key, rows[1].key);
	CHECK(a.evicted == 2, "a and d counted: %llu", (unsigned long long)a.evicted);
	series_free(&a);
}
