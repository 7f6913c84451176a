// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "series.h"

/* Keys are zero-padded to SERIES_KEY_MAX: compared whole, they need no
 * size (qsort() and bsearch() take no context). */
static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct series_age *)a)->key, ((const struct series_age *)b)->key,
		      SERIES_KEY_MAX);
}

long series_age(struct series_ages *a, const struct series_seen *seen, size_t n,
		__u64 overflow, bool *evict)
{
	/* Refused since the last write: the table is full and someone waits. */
	bool pressure = overflow != a->overflow;
	struct series_age *next = calloc(n ? n : 1, sizeof(*next));
	size_t kept = 0;
	long evicted = 0;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct series_age *s = &next[kept];
		const struct series_age *before;

		memset(s, 0, sizeof(*s));
		memcpy(s->key, seen[i].key, a->key_size);
		s->activity = seen[i].activity;
		before = a->n ? bsearch(s, a->v, a->n, sizeof(*s), by_key) : NULL;
		if (before && before->activity == s->activity)
			s->idle = before->idle + 1;
		evict[i] = pressure && s->idle >= SERIES_IDLE_WRITES;
		if (evict[i])
			evicted++;
		else
			kept++;
	}
	qsort(next, kept, sizeof(*next), by_key);
	free(a->v);
	a->v = next;
	a->n = kept;
	a->overflow = overflow;
	return evicted;
}

long series_give_back(struct series_ages *a, void *rows, size_t n, size_t row_size,
		      __u64 (*activity_of)(const void *row), __u64 overflow,
		      bool (*evict)(const void *row, void *ctx), void *ctx)
{
	struct series_seen *seen = calloc(n ? n : 1, sizeof(*seen));
	bool *out = calloc(n ? n : 1, sizeof(*out));
	char *row = rows;
	size_t kept = 0;
	long err = -ENOMEM;

	if (!seen || !out)
		goto done;
	for (size_t i = 0; i < n; i++) {
		seen[i].key = row + i * row_size;
		seen[i].activity = activity_of(row + i * row_size);
	}
	err = series_age(a, seen, n, overflow, out);
	if (err < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (out[i] && evict(row + i * row_size, ctx)) {
			a->evicted++;
			continue;
		}
		if (kept != i)
			memcpy(row + kept * row_size, row + i * row_size, row_size);
		kept++;
	}
	err = (long)kept;
done:
	free(seen);
	free(out);
	return err;
}

void series_free(struct series_ages *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}
