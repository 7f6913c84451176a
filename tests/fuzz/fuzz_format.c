// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer target for the row formatter (format.c).
 *
 * Whatever the bytes of an event and whatever the options (-T -t -j -U -q
 * -w, -c rows), every line written must be one line of printable ASCII
 * that fits FMT_LINE_MAX, with exactly one newline, at the end. A column
 * row must hold in each column what the event says, at least one space
 * between columns (a wide value may widen its column, never run into the
 * next); a JSON line must be one valid JSON object with the event's values.
 * A task name may only appear escaped: never a raw byte outside printable
 * ASCII, never a raw '"' or '\' in JSON, never a raw space in the COMM
 * column. fmt_escape_comm(), fmt_escape_column() and fmt_json_escape()
 * must never write past their buffer, must NUL-terminate, and must cut only
 * between whole escapes, and only when the next one does not fit.
 *
 * The expected texts are computed here, apart from format.c.
 * Input layout: fuzz_input.h.
 *
 *   make fuzz                       bounded run (seed corpus generated)
 *   .output/fuzz/fuzz_format FILE   replays one input
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "format.h"
#include "fuzz_input.h"

#define REQUIRE(cond, ...)                                                    \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_format: %s:%d: %s: ", __FILE__, \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			abort();                                              \
		}                                                             \
	} while (0)

/* bpf_ktime_get_ns() counts from boot: below 2^62 ns (146 years). The
 * realtime-monotonic offset is within as much of zero, and an event's real
 * time is not before 1970 (CLOCK_REALTIME cannot be set before the epoch).
 * Outside these ranges the formatter's clock arithmetic could overflow, or
 * its cache of the last second shown could take second -1 for "none yet":
 * no kernel can make that happen. */
#define CLOCK_LIMIT ((__s64)1 << 62)

struct opts {
	bool wallclock, timestamp, json, uid, queue, wide, counts, proto, failed, service;
};

/* -x: a drop's process is its listener's owner, "-" (null) while unknown;
 * an error has no client. */
static bool ref_no_owner(const struct event *e)
{
	return e->kind == EVENT_DROP && !e->owner_known;
}

/* REASON: a drop's reason, an error's errno name, else "-". */
static void ref_reason(const struct event *e, char *out, size_t size)
{
	static const char *const reasons[] = { "accept_queue_full", "syn_queue_full", "other",
					       "cookie_ack_dropped" };
	const char *name;

	if (e->kind == EVENT_DROP) {
		snprintf(out, size, "%s", e->code < 4 ? reasons[e->code] : "unknown");
	} else if (e->kind == EVENT_ERROR) {
		name = e->code ? strerrorname_np(e->code) : NULL;
		if (name)
			snprintf(out, size, "%s", name);
		else
			snprintf(out, size, "E%u", e->code);
	} else {
		snprintf(out, size, "-");
	}
}

/* What the PROTO column and the "proto" key show for a proto byte. */
static const char *ref_proto(unsigned int proto)
{
	return proto == PROTO_MPTCP ? "mptcp" : "tcp";
}

/* --- task names ------------------------------------------------------------ */

enum esc_kind { ESC_TEXT, ESC_COLUMN, ESC_JSON };

/* A task name escaped byte by byte, as --metrics' labels (\xHH for bytes
 * outside 0x20..0x7e and '\'), the COMM column (those and ' ') or JSON
 * (\u00XX for those and '"') show it. ends[k] is the length of the first
 * k escapes. */
struct ref_name {
	char text[6 * TASK_COMM_LEN + 1];
	size_t ends[TASK_COMM_LEN + 1];
	size_t units;
	unsigned char raw[TASK_COMM_LEN + 1];
};

static void ref_escape(const char *comm, size_t len, enum esc_kind kind, struct ref_name *r)
{
	size_t n = 0;

	r->units = 0;
	r->ends[0] = 0;
	for (size_t i = 0; i < len && i < TASK_COMM_LEN && comm[i]; i++) {
		unsigned char c = (unsigned char)comm[i];
		bool plain = c >= 0x20 && c <= 0x7e && c != '\\' && (kind != ESC_JSON || c != '"') &&
			     (kind != ESC_COLUMN || c != ' ');

		if (plain)
			r->text[n++] = (char)c;
		else
			n += (size_t)sprintf(r->text + n, kind == ESC_JSON ? "\\u%04x" : "\\x%02x", c);
		r->raw[r->units] = c;
		r->ends[++r->units] = n;
	}
	r->text[n] = '\0';
	r->raw[r->units] = '\0';
}

static void check_escape(enum esc_kind kind, const char *comm, size_t len, size_t size)
{
	const char *what = kind == ESC_TEXT ? "fmt_escape_comm" :
			   kind == ESC_COLUMN ? "fmt_escape_column" : "fmt_json_escape";
	struct ref_name ref;
	/* Exactly @size bytes, so that ASan sees a write past them. */
	char *out = malloc(size);
	size_t n, k;

	REQUIRE(out || !size, "out of memory");
	ref_escape(comm, len, kind, &ref);
	n = kind == ESC_TEXT ? fmt_escape_comm(out, size, comm, len) :
	    kind == ESC_COLUMN ? fmt_escape_column(out, size, comm, len) :
	    fmt_json_escape(out, size, comm, len);
	if (!size) {
		REQUIRE(n == 0, "%s() into 0 bytes returned %zu", what, n);
		free(out);
		return;
	}
	REQUIRE(n < size, "%s() returned %zu for a buffer of %zu", what, n, size);
	REQUIRE(memchr(out, '\0', size) == out + n, "%s(): no NUL at %zu", what, n);
	REQUIRE(memcmp(out, ref.text, n) == 0, "%s() wrote \"%s\", want a prefix of \"%s\"", what,
		out, ref.text);
	for (k = 0; k <= ref.units && ref.ends[k] < n; k++)
		;
	REQUIRE(k <= ref.units && ref.ends[k] == n, "%s() cut inside an escape: \"%s\" of \"%s\"",
		what, out, ref.text);
	/* It stops only where the next escape and the NUL do not fit. */
	REQUIRE(k == ref.units || ref.ends[k + 1] + 1 > size,
		"%s() stopped at %zu of \"%s\" with %zu bytes of room", what, n, ref.text, size);
	free(out);
}

/* The COMM column: the name escaped as the column escapes it, its whole
 * escapes that fit in 12 characters. */
static void ref_comm_column(const char *comm, char *out, size_t size)
{
	struct ref_name name;
	size_t k = 0;

	ref_escape(comm, TASK_COMM_LEN, ESC_COLUMN, &name);
	while (k < name.units && name.ends[k + 1] <= 12)
		k++;
	snprintf(out, size, "%.*s", (int)name.ends[k], name.text);
}

/* --- lines ------------------------------------------------------------------- */

/* One line of printable ASCII ending in its only newline; copied to @row
 * without the newline. */
static void check_line(const char *line, size_t n, char *row, const char *what)
{
	REQUIRE(n > 0 && n <= FMT_LINE_MAX, "%s: length %zu", what, n);
	REQUIRE(line[n - 1] == '\n', "%s does not end with a newline: \"%.*s\"", what, (int)n, line);
	for (size_t i = 0; i + 1 < n; i++)
		REQUIRE(line[i] >= 0x20 && line[i] < 0x7f, "%s: byte %zu is 0x%02x: \"%.*s\"", what, i,
			(unsigned char)line[i], (int)n, line);
	memcpy(row, line, n - 1);
	row[n - 1] = '\0';
}

/* The column at *pos is @want, padded with spaces to @width; if @last it
 * ends the row, else one space or more follows. *pos moves past them. */
static void expect_column(const char *row, size_t *pos, const char *name, const char *want,
			  size_t width, bool last)
{
	size_t len = strlen(want), end = *pos + len;

	REQUIRE(strncmp(row + *pos, want, len) == 0, "%s column: want \"%s\" at %zu of \"%s\"",
		name, want, *pos, row);
	for (; end < *pos + width; end++)
		REQUIRE(row[end] == ' ', "%s column: not padded to %zu: \"%s\"", name, width, row);
	if (last) {
		REQUIRE(row[end] == '\0', "%s column: more after the last column: \"%s\"", name, row);
	} else {
		REQUIRE(row[end] == ' ', "%s column: no space after \"%s\": \"%s\"", name, want, row);
		end++;
	}
	*pos = end;
}

/* The header's column names, in order, separated by spaces. */
static void expect_names(const char *row, const char *const *names, int count)
{
	char copy[FMT_LINE_MAX + 1], *save = NULL, *tok;
	int i = 0;

	snprintf(copy, sizeof(copy), "%s", row);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++)
		REQUIRE(i < count && strcmp(tok, names[i]) == 0, "header \"%s\": column %d is %s, want %s",
			row, i, tok, i < count ? names[i] : "none");
	REQUIRE(i == count, "header \"%s\": %d columns, want %d", row, i, count);
}

static void ref_hms(__u64 ts_ns, __s64 off, char *out, size_t size)
{
	time_t sec = (time_t)(((__s64)ts_ns + off) / 1000000000);
	struct tm tm;

	if (!localtime_r(&sec, &tm) || !strftime(out, size, "%H:%M:%S", &tm))
		snprintf(out, size, "?");
}

static void ref_unix_time(__u64 ts_ns, __s64 off, char *out, size_t size)
{
	__s64 real = (__s64)ts_ns + off;

	snprintf(out, size, "%lld.%06lld", (long long)(real / 1000000000),
		 (long long)(real % 1000000000 / 1000));
}

static void ref_addr(int family, const __u8 addr[16], char *out, size_t size)
{
	REQUIRE(inet_ntop(family, addr, out, (socklen_t)size), "inet_ntop");
}

/* --- JSON ------------------------------------------------------------------------ */

enum json_type { J_NUM, J_STR, J_NULL };

struct json_field {
	char key[32];
	enum json_type type;
	char text[FMT_LINE_MAX];	/* a number as written; a string decoded */
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* A JSON string (RFC 8259) at @p, decoded into @out; code points must be
 * below 0x100 (they stand for the bytes of a name). */
static const char *json_string(const char *p, char *out, size_t size, const char *row)
{
	size_t n = 0;

	REQUIRE(*p == '"', "JSON: a string expected at \"%s\" of \"%s\"", p, row);
	for (p++; *p != '"'; n++) {
		unsigned c = (unsigned char)*p++;

		REQUIRE(c >= 0x20, "JSON: raw control byte in a string: \"%s\"", row);
		if (c == '\\') {
			switch (*p++) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				c = 0;
				for (int i = 0; i < 4; i++, p++) {
					char h = *p;

					REQUIRE((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
						(h >= 'A' && h <= 'F'), "JSON: bad \\u escape: \"%s\"", row);
					c = c * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
				}
				REQUIRE(c > 0 && c < 0x100, "JSON: \\u%04x in a name: \"%s\"", c, row);
				break;
			default:
				REQUIRE(false, "JSON: bad escape: \"%s\"", row);
			}
		}
		REQUIRE(n + 1 < size, "JSON: string too long: \"%s\"", row);
		out[n] = (char)c;
	}
	out[n] = '\0';
	return p + 1;
}

static const char *json_number(const char *p, char *out, size_t size, const char *row)
{
	const char *start = p;

	if (*p == '-')
		p++;
	REQUIRE(*p >= '0' && *p <= '9', "JSON: a value expected at \"%s\" of \"%s\"", p, row);
	if (*p == '0')
		p++;
	else
		while (*p >= '0' && *p <= '9')
			p++;
	if (*p == '.') {
		p++;
		REQUIRE(*p >= '0' && *p <= '9', "JSON: bad number in \"%s\"", row);
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		REQUIRE(*p >= '0' && *p <= '9', "JSON: bad number in \"%s\"", row);
		while (*p >= '0' && *p <= '9')
			p++;
	}
	REQUIRE((size_t)(p - start) < size, "JSON: number too long");
	snprintf(out, size, "%.*s", (int)(p - start), start);
	return p;
}

/* A flat JSON object of numbers, strings and nulls: the whole row. */
static int parse_json(const char *row, struct json_field *f, int max)
{
	const char *p = skip_ws(row);
	int n = 0;

	REQUIRE(*p == '{', "JSON: no object: \"%s\"", row);
	p = skip_ws(p + 1);
	while (*p != '}') {
		REQUIRE(n < max, "JSON: too many fields: \"%s\"", row);
		if (n) {
			REQUIRE(*p == ',', "JSON: ',' expected at \"%s\" of \"%s\"", p, row);
			p = skip_ws(p + 1);
		}
		p = skip_ws(json_string(p, f[n].key, sizeof(f[n].key), row));
		REQUIRE(*p == ':', "JSON: ':' expected at \"%s\" of \"%s\"", p, row);
		p = skip_ws(p + 1);
		if (*p == '"') {
			f[n].type = J_STR;
			p = json_string(p, f[n].text, sizeof(f[n].text), row);
		} else if (strncmp(p, "null", 4) == 0) {
			f[n].type = J_NULL;
			f[n].text[0] = '\0';
			p += 4;
		} else {
			f[n].type = J_NUM;
			p = json_number(p, f[n].text, sizeof(f[n].text), row);
		}
		p = skip_ws(p);
		n++;
	}
	REQUIRE(*skip_ws(p + 1) == '\0', "JSON: more after the object: \"%s\"", row);
	return n;
}

struct want_field {
	const char *key;
	enum json_type type;
	char text[64];		/* a number's text; a string's bytes */
};

/* A string key, or null for NULL. */
static struct want_field str_or_null(const char *key, const char *v)
{
	struct want_field f = { .key = key, .type = v ? J_STR : J_NULL };

	snprintf(f.text, sizeof(f.text), "%s", v ? v : "");
	return f;
}

/* A number that is null when 0 (unknown). */
static struct want_field known(const char *key, unsigned long long v)
{
	struct want_field f = { .key = key, .type = v ? J_NUM : J_NULL };

	if (v)
		snprintf(f.text, sizeof(f.text), "%llu", v);
	return f;
}

static void expect_json(const char *row, const struct want_field *want, int count)
{
	struct json_field got[24];
	int n = parse_json(row, got, 24);

	REQUIRE(n == count, "JSON: %d fields, want %d: \"%s\"", n, count, row);
	for (int i = 0; i < n; i++) {
		REQUIRE(strcmp(got[i].key, want[i].key) == 0, "JSON: field %d is \"%s\", want \"%s\": \"%s\"",
			i, got[i].key, want[i].key, row);
		REQUIRE(got[i].type == want[i].type && strcmp(got[i].text, want[i].text) == 0,
			"JSON: \"%s\" is %s, want %s: \"%s\"", want[i].key, got[i].text, want[i].text, row);
	}
}

static struct want_field num(const char *key, unsigned long long v)
{
	struct want_field f = { .key = key, .type = J_NUM };

	snprintf(f.text, sizeof(f.text), "%llu", v);
	return f;
}

static struct want_field str(const char *key, const char *v)
{
	struct want_field f = { .key = key, .type = J_STR };

	snprintf(f.text, sizeof(f.text), "%s", v);
	return f;
}

/* --- rows ---------------------------------------------------------------------- */

static void check_header(const struct fmt_state *st, const struct opts *o)
{
	const char *names[16];
	char *buf = malloc(FMT_LINE_MAX), row[FMT_LINE_MAX + 1];
	size_t n;
	int k = 0;

	REQUIRE(buf, "out of memory");
	n = fmt_header(st, buf, FMT_LINE_MAX);
	if (o->json) {
		REQUIRE(n == 0, "a header in JSON mode: \"%.*s\"", (int)n, buf);
	} else {
		check_line(buf, n, row, "the header");
		if (o->wallclock)
			names[k++] = "TIME";
		if (o->timestamp)
			names[k++] = "TIME(s)";
		if (o->uid)
			names[k++] = "UID";
		names[k++] = "PID", names[k++] = "COMM", names[k++] = "IP";
		if (o->proto)
			names[k++] = "PROTO";
		names[k++] = "RADDR", names[k++] = "RPORT", names[k++] = "LADDR", names[k++] = "LPORT";
		if (o->queue)
			names[k++] = "BL", names[k++] = "WAIT(ms)";
		if (o->failed)
			names[k++] = "REASON";
		if (o->service)
			names[k++] = "SERVICE";
		expect_names(row, names, k);
	}
	n = fmt_count_header(st, buf, FMT_LINE_MAX);
	if (o->json) {
		REQUIRE(n == 0, "a -c header in JSON mode: \"%.*s\"", (int)n, buf);
	} else {
		const char *names_c[10];
		int c = 0;

		check_line(buf, n, row, "the -c header");
		names_c[c++] = "PID", names_c[c++] = "COMM", names_c[c++] = "IP";
		if (o->proto)
			names_c[c++] = "PROTO";
		names_c[c++] = "LADDR", names_c[c++] = "LPORT", names_c[c++] = "ACCEPTS";
		if (o->failed)
			names_c[c++] = "DROPS", names_c[c++] = "ERRORS";
		if (o->service)
			names_c[c++] = "SERVICE";
		expect_names(row, names_c, c);
	}
	free(buf);
}

/* The SERVICE column: the whole name, escaped as COMM is; - for none. */
static void expect_service(const char *row, size_t *pos, const struct event *e)
{
	struct ref_name name;

	if (!e->names.service) {
		expect_column(row, pos, "SERVICE", "-", 0, true);
		return;
	}
	ref_escape(e->names.service, TASK_COMM_LEN, ESC_COLUMN, &name);
	expect_column(row, pos, "SERVICE", name.text, 0, true);
}

/* The JSON line of @e (as @row): every key, in order, kind by kind. */
static void check_event_json(const char *row, const struct event *e, const struct opts *o,
			     const char *raddr, const char *laddr, __s64 off)
{
	int family = e->family == AF_INET6 ? AF_INET6 : AF_INET;
	struct ref_name name;
	char want[64];
	static const char *const kinds[] = { "accept", "drop", "error" };
	static const struct want_field null_of[] = {
		{ "pid", J_NULL, "" }, { "tid", J_NULL, "" }, { "comm", J_NULL, "" },
		{ "raddr", J_NULL, "" }, { "rport", J_NULL, "" },
	};
	struct want_field f[28];
	int k = 0;

	ref_escape(e->comm, sizeof(e->comm), ESC_JSON, &name);
	f[k] = (struct want_field){ .key = "ts", .type = J_NUM };
	ref_unix_time(e->ts_ns, off, f[k++].text, sizeof(f[0].text));
	f[k++] = str("event", e->kind < 3 ? kinds[e->kind] : "unknown");
	f[k++] = ref_no_owner(e) ? null_of[0] : num("pid", e->pid);
	f[k++] = e->kind == EVENT_DROP ? null_of[1] : num("tid", e->tid);
	f[k++] = ref_no_owner(e) ? null_of[2] : str("comm", (const char *)name.raw);
	f[k++] = num("uid", e->uid);
	f[k++] = num("ip", family == AF_INET6 ? 6 : 4);
	f[k++] = str("proto", ref_proto(e->proto));
	f[k++] = e->kind == EVENT_ERROR ? null_of[3] : str("raddr", raddr);
	f[k++] = e->kind == EVENT_ERROR ? null_of[4] : num("rport", e->rport);
	f[k++] = str("laddr", laddr);
	f[k++] = num("lport", e->lport);
	f[k++] = num("netns", e->netns);
	f[k++] = str_or_null("cgroup", e->names.cgroup);
	f[k++] = str_or_null("unit", e->names.unit);
	f[k++] = str_or_null("container", e->names.container);
	f[k++] = known("nspid", e->nspid);
	f[k++] = known("pidns", e->pidns);
	f[k++] = known("mntns", e->mntns);
	if (o->queue && e->kind == EVENT_ACCEPT) {
		f[k++] = num("backlog", e->backlog_len);
		f[k++] = num("backlog_max", e->backlog_max);
		f[k] = (struct want_field){ .key = "wait_ms",
					    .type = e->wait_ns == WAIT_UNKNOWN ? J_NULL : J_NUM };
		if (e->wait_ns != WAIT_UNKNOWN)
			snprintf(f[k].text, sizeof(f[k].text), "%.3f", (double)e->wait_ns / 1e6);
		k++;
	}
	if (e->kind == EVENT_DROP) {
		ref_reason(e, want, sizeof(want));
		f[k++] = str("reason", want);
		f[k++] = str("stage", e->stage == STAGE_ACK ? "ack" : "syn");
	} else if (e->kind == EVENT_ERROR) {
		ref_reason(e, want, sizeof(want));
		f[k++] = str("errno", want);
	}
	expect_json(row, f, k);
}

static void check_event(struct fmt_state *st, const struct event *e, const struct opts *o,
			__u64 first_ts, __s64 off)
{
	char *buf = malloc(FMT_LINE_MAX), row[FMT_LINE_MAX + 1], want[64], raddr[64], laddr[64];
	int family = e->family == AF_INET6 ? AF_INET6 : AF_INET;
	size_t w = o->wide ? 39 : 16, pos = 0;

	REQUIRE(buf, "out of memory");
	check_line(buf, fmt_event(st, e, buf, FMT_LINE_MAX), row, "an event line");
	free(buf);
	ref_addr(family, e->raddr, raddr, sizeof(raddr));
	ref_addr(family, e->laddr, laddr, sizeof(laddr));

	if (o->json) {
		check_event_json(row, e, o, raddr, laddr, off);
		return;
	}

	if (o->wallclock) {
		ref_hms(e->ts_ns, off, want, sizeof(want));
		expect_column(row, &pos, "TIME", want, 8, false);
	}
	if (o->timestamp) {
		snprintf(want, sizeof(want), "%.3f", (double)(__s64)(e->ts_ns - first_ts) / 1e9);
		expect_column(row, &pos, "TIME(s)", want, 8, false);
	}
	if (o->uid) {
		snprintf(want, sizeof(want), "%u", e->uid);
		expect_column(row, &pos, "UID", want, 6, false);
	}
	if (ref_no_owner(e))
		snprintf(want, sizeof(want), "-");
	else
		snprintf(want, sizeof(want), "%u", e->pid);
	expect_column(row, &pos, "PID", want, 7, false);
	/* COMM: the escaped name, cut to 12 characters between whole escapes. */
	if (ref_no_owner(e))
		snprintf(want, sizeof(want), "-");
	else
		ref_comm_column(e->comm, want, sizeof(want));
	expect_column(row, &pos, "COMM", want, 12, false);
	expect_column(row, &pos, "IP", family == AF_INET6 ? "6" : "4", 2, false);
	if (o->proto)
		expect_column(row, &pos, "PROTO", ref_proto(e->proto), 5, false);
	expect_column(row, &pos, "RADDR", e->kind == EVENT_ERROR ? "-" : raddr, w, false);
	snprintf(want, sizeof(want), "%u", e->rport);
	expect_column(row, &pos, "RPORT", e->kind == EVENT_ERROR ? "-" : want, 5, false);
	expect_column(row, &pos, "LADDR", laddr, w, false);
	snprintf(want, sizeof(want), "%u", e->lport);
	/* Padded only where a column follows: a row never ends in a blank. */
	expect_column(row, &pos, "LPORT", want, o->queue || o->failed || o->service ? 5 : 0,
		      !o->queue && !o->failed && !o->service);
	if (o->queue) {
		snprintf(want, sizeof(want), "%u/%u", e->backlog_len, e->backlog_max);
		expect_column(row, &pos, "BL", e->kind != EVENT_ACCEPT ? "-" : want, 11, false);
		if (e->wait_ns == WAIT_UNKNOWN || e->kind != EVENT_ACCEPT)
			snprintf(want, sizeof(want), "-");
		else
			snprintf(want, sizeof(want), "%.3f", (double)e->wait_ns / 1e6);
		expect_column(row, &pos, "WAIT(ms)", want, o->failed || o->service ? 8 : 0,
			      !o->failed && !o->service);
	}
	if (o->failed) {
		ref_reason(e, want, sizeof(want));
		expect_column(row, &pos, "REASON", want, o->service ? 18 : 0, !o->service);
	}
	if (o->service)
		expect_service(row, &pos, e);
}

/* The -c -j line of @e's key with @count accepts (as @row). */
static void check_count_json(const char *row, const struct event *e, const struct opts *o,
			     const char *laddr, __u64 count, __s64 off)
{
	int family = e->family == AF_INET6 ? AF_INET6 : AF_INET;
	struct ref_name name;
	struct want_field f[16];
	int k = 0;

	ref_escape(e->comm, sizeof(e->comm), ESC_JSON, &name);
	f[k] = (struct want_field){ .key = "ts", .type = J_NUM };
	ref_unix_time(e->ts_ns, off, f[k++].text, sizeof(f[0].text));
	/* A -c row of drops whose listener's owner is unknown: PID 0. */
	f[k++] = e->pid ? num("pid", e->pid) : (struct want_field){ "pid", J_NULL, "" };
	f[k++] = e->pid ? str("comm", (const char *)name.raw) :
			  (struct want_field){ "comm", J_NULL, "" };
	f[k++] = num("ip", family == AF_INET6 ? 6 : 4);
	f[k++] = str("proto", ref_proto(e->proto));
	f[k++] = str("laddr", laddr);
	f[k++] = num("lport", e->lport);
	if (o->service) {
		f[k++] = str_or_null("cgroup", e->names.cgroup);
		f[k++] = str_or_null("unit", e->names.unit);
		f[k++] = str_or_null("container", e->names.container);
	}
	f[k++] = num("accepts", count);
	if (o->failed) {
		f[k++] = num("drops", 0);
		f[k++] = num("errors", 0);
	}
	expect_json(row, f, k);
}

/* A -c row for the event's process, name and local end; the count and
 * the time of the row are taken from the event's other fields. */
static void check_count_row(struct fmt_state *st, const struct event *e, const struct opts *o,
			    __s64 off)
{
	char *buf = malloc(FMT_LINE_MAX), row[FMT_LINE_MAX + 1], want[64], laddr[64];
	struct count_key *key = malloc(sizeof(*key));
	int family = e->family == AF_INET6 ? AF_INET6 : AF_INET;
	__u64 count = e->wait_ns;
	size_t pos = 0;

	REQUIRE(buf && key, "out of memory");
	memset(key, 0, sizeof(*key));
	key->pid = e->pid;
	key->labels.family = e->family;
	key->labels.lport = e->lport;
	key->labels.proto = e->proto;
	memcpy(key->labels.laddr, e->laddr, sizeof(key->labels.laddr));
	memcpy(key->labels.comm, e->comm, sizeof(key->labels.comm));
	check_line(buf, fmt_count_row(st, key, &(struct count_value){ .events = { count } }, &e->names, e->ts_ns,
				 buf, FMT_LINE_MAX), row, "a -c row");
	free(buf);
	free(key);
	ref_addr(family, e->laddr, laddr, sizeof(laddr));

	if (o->json) {
		check_count_json(row, e, o, laddr, count, off);
		return;
	}
	if (e->pid)
		snprintf(want, sizeof(want), "%u", e->pid);
	else
		snprintf(want, sizeof(want), "-");
	expect_column(row, &pos, "PID", want, 7, false);
	if (e->pid)
		ref_comm_column(e->comm, want, sizeof(want));
	else
		snprintf(want, sizeof(want), "-");
	expect_column(row, &pos, "COMM", want, 12, false);
	expect_column(row, &pos, "IP", family == AF_INET6 ? "6" : "4", 2, false);
	if (o->proto)
		expect_column(row, &pos, "PROTO", ref_proto(e->proto), 5, false);
	expect_column(row, &pos, "LADDR", laddr, o->wide ? 39 : 16, false);
	snprintf(want, sizeof(want), "%u", e->lport);
	expect_column(row, &pos, "LPORT", want, 5, false);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)count);
	expect_column(row, &pos, "ACCEPTS", want, o->failed || o->service ? 7 : 0,
		      !o->failed && !o->service);
	if (o->failed) {
		expect_column(row, &pos, "DROPS", "0", 5, false);
		expect_column(row, &pos, "ERRORS", "0", o->service ? 6 : 0, !o->service);
	}
	if (o->service)
		expect_service(row, &pos, e);
}

/* A record of @size bytes: decoded only if its size is the one its family
 * and -q make, and then every field comes from its bytes. The copy is
 * exactly @size bytes so that ASan sees any read past the record. */
static void check_decode(const uint8_t *data, size_t size, const struct fmt_parts *parts)
{
	unsigned char *rec = malloc(size ? size : 1);
	struct event_identity id;
	struct event_head h;
	struct event e;
	size_t want = 0;

	REQUIRE(rec, "out of memory");
	if (size)
		memcpy(rec, data, size);
	if (size >= sizeof(h)) {
		memcpy(&h, rec, sizeof(h));
		if ((h.family == AF_INET || h.family == AF_INET6) && h.kind < NR_EVENT_KINDS)
			want = sizeof(h) +
			       (parts->queue && h.kind == EVENT_ACCEPT ? sizeof(struct event_queue) : 0) +
			       (h.kind != EVENT_ACCEPT ? sizeof(struct event_failure) : 0) +
			       (parts->identity ? sizeof(id) : 0) + (h.family == AF_INET ? 8 : 32);
	}
	if (fmt_decode(rec, size, parts, &e)) {
		size_t alen = h.family == AF_INET ? 4 : 16;
		const unsigned char *addrs = rec + size - 2 * alen;

		REQUIRE(want && size == want, "decoded a record of %zu bytes", size);
		REQUIRE(e.pid == h.pid && e.tid == h.tid && e.lport == h.lport && e.rport == h.rport &&
			e.family == h.family && e.kind == h.kind && !memcmp(e.comm, h.comm, sizeof(e.comm)),
			"decoded head differs");
		REQUIRE(!memcmp(e.laddr, addrs, alen) && !memcmp(e.raddr, addrs + alen, alen),
			"decoded addresses differ");
		if (parts->identity) {
			memcpy(&id, addrs - sizeof(id), sizeof(id));
			REQUIRE(e.cgroup_id == id.cgroup_id && e.nspid == id.nspid &&
				e.pidns == id.pidns && e.mntns == id.mntns, "decoded identity differs");
		}
		REQUIRE(!e.names.cgroup && !e.names.unit && !e.names.container, "decoding named a cgroup");
	} else {
		REQUIRE(!want || size != want, "refused a well-formed record of %zu bytes", size);
	}
	free(rec);
}

/* The fuzzer's strings for the names (fuzz_input.h): made from the raw
 * bytes where the event's pointers lie, before they are set. */
struct fuzz_names {
	char cgroup[17], unit[9], container[TASK_COMM_LEN + 1];
};

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void set_names(struct event *e, struct fuzz_names *n)
{
	const unsigned char *raw = (const unsigned char *)e;
	bool cgroup = !all_zero(&e->names.cgroup, sizeof(e->names.cgroup));
	bool unit = !all_zero(&e->names.container, sizeof(e->names.container));
	bool container = !all_zero(&e->names.unit, sizeof(e->names.unit));

	memcpy(n->cgroup, raw + offsetof(struct event, names.cgroup), 16);
	n->cgroup[16] = '\0';
	memcpy(n->unit, raw + offsetof(struct event, names.container), 8);
	n->unit[8] = '\0';
	memcpy(n->container, e->comm, TASK_COMM_LEN);
	n->container[TASK_COMM_LEN] = '\0';
	e->names.service = !all_zero(&e->names.service, sizeof(e->names.service)) ? n->cgroup : NULL;
	e->names.cgroup = cgroup ? n->cgroup : NULL;
	e->names.unit = unit ? n->unit : NULL;
	e->names.container = container ? n->container : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the size of an event, so that ASan sees a read past it. */
	struct event *e = malloc(sizeof(*e));
	struct fmt_state st;
	__u8 flags = size > 0 ? data[0] : 0;
	size_t esc_size = size > 1 ? data[1] : 0;
	size_t esc_len = size > 2 ? (data[2] & ~FUZZ_FAILED) % (TASK_COMM_LEN + 1) : 0;
	struct opts o = {
		.wallclock = flags & FUZZ_WALLCLOCK, .timestamp = flags & FUZZ_TIMESTAMP,
		.json = flags & FUZZ_JSON, .uid = flags & FUZZ_UID, .queue = flags & FUZZ_QUEUE,
		.wide = flags & FUZZ_WIDE, .counts = flags & FUZZ_COUNTS, .proto = flags & FUZZ_PROTO,
		.failed = size > 2 && (data[2] & FUZZ_FAILED),
		.service = size > 11 && (data[11] & FUZZ2_SERVICE),
	};
	struct fmt_parts parts = {
		.queue = o.queue, .identity = size > 11 && (data[11] & FUZZ2_IDENTITY),
	};
	struct fuzz_names names;
	__u64 raw = 0, first_ts = 0;
	__s64 off;
	size_t at = FUZZ_HEAD_LEN;

	REQUIRE(e, "out of memory");
	for (size_t i = 0; i < 8 && 3 + i < size; i++)
		raw |= (__u64)data[3 + i] << (8 * i);
	off = (__s64)raw;
	if (off >= CLOCK_LIMIT || off < -CLOCK_LIMIT)
		off /= 2;

	/* What tcpaccept.c does for the options. */
	fmt_init(&st, o.wallclock, o.timestamp, off);
	st.json = o.json;
	st.print_uid = o.uid;
	st.queue = o.queue;
	st.wide = o.wide;
	st.print_proto = o.proto;
	st.failed = o.failed;
	st.print_service = o.service;
	check_header(&st, &o);

	for (int i = 0; i < FUZZ_MAX_EVENTS && (i == 0 || at < size); i++) {
		size_t take = at < size ? size - at : 0;

		if (take > sizeof(*e))
			take = sizeof(*e);
		check_decode(data + at, take, &parts);
		memset(e, 0, sizeof(*e));
		if (take)
			memcpy(e, data + at, take);
		at += take;
		set_names(e, &names);
		e->ts_ns &= (__u64)CLOCK_LIMIT - 1;
		if ((__s64)e->ts_ns + off < 0)
			e->ts_ns = (__u64)-off;
		if (i == 0)
			first_ts = e->ts_ns;

		check_escape(ESC_TEXT, e->comm, esc_len, esc_size);
		check_escape(ESC_COLUMN, e->comm, esc_len, esc_size);
		check_escape(ESC_JSON, e->comm, esc_len, esc_size);
		check_event(&st, e, &o, first_ts, off);
		if (o.counts)
			check_count_row(&st, e, &o, off);
	}
	free(e);
	return 0;
}
