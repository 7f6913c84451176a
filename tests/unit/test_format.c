// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: decoding records and formatting rows and -c tables (format.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"

TEST(format)
{
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX];
	size_t n;

	fmt_init(&st, false, false, 0);
	n = fmt_header(&st, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP RADDR            RPORT LADDR            LPORT\n"),
	      "header: '%s'", buf);

	make_event(&e, AF_INET, "10.1.2.3", 54321, "127.0.0.1", 80, "nginx", 0);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "1234    nginx        4  10.1.2.3         54321 127.0.0.1        80\n"),
	      "IPv4 row: '%s'", buf);

	make_event(&e, AF_INET6, "2001:db8::1", 1, "fe80::1234:5678:9abc:def0", 65535,
		   "a-very-long-name", 0);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "1234    a-very-long- 6  2001:db8::1      1     fe80::1234:5678:9abc:def0 65535\n"),
	      "IPv6 row: '%s'", buf);

	make_event(&e, AF_INET6, "::ffff:127.0.0.1", 40000, "::ffff:127.0.0.1", 8080, "srv", 0);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "1234    srv          6  ::ffff:127.0.0.1 40000 ::ffff:127.0.0.1 8080\n"),
	      "IPv4-mapped row: '%s'", buf);

	/* -t: seconds since the first event. */
	fmt_init(&st, false, true, 0);
	n = fmt_header(&st, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "TIME(s)  PID     COMM         IP RADDR            RPORT LADDR            LPORT\n"),
	      "-t header: '%s'", buf);
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "sshd", 5000000000ULL);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "0.000    1234    sshd         4  1.2.3.4          5     5.6.7.8          22\n"),
	      "-t first row: '%s'", buf);
	e.ts_ns = 6250000000ULL;
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strncmp(buf, "1.250    1234    sshd ", 21), "-t later row: '%s'", buf);

	/* -T (and both): local time of the event, TIME before TIME(s). */
	setenv("TZ", "UTC", 1);
	tzset();
	fmt_init(&st, true, true, 1700000000LL * 1000000000LL - 5000000000LL);
	n = fmt_header(&st, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "TIME     TIME(s)  PID     COMM         IP RADDR            RPORT LADDR            LPORT\n"),
	      "-T -t header: '%s'", buf);
	e.ts_ns = 5000000000ULL;
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strncmp(buf, "22:13:20 0.000    1234    sshd ", 31), "-T -t row: '%s'", buf);
	e.ts_ns = 5000000000ULL + 61500000000ULL;
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strncmp(buf, "22:14:21 61.500   1234    sshd ", 31), "-T -t row a minute on: '%s'", buf);

	fmt_init(&st, true, false, 1700000000LL * 1000000000LL);
	n = fmt_header(&st, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "TIME     PID     COMM         IP RADDR            RPORT LADDR            LPORT\n"),
	      "-T header: '%s'", buf);
	e.ts_ns = 0;
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strncmp(buf, "22:13:20 1234    sshd ", 22), "-T row: '%s'", buf);
}

TEST(escape)
{
	struct fmt_state st;
	struct event e;
	char out[4 * TASK_COMM_LEN + 1], buf[FMT_LINE_MAX];
	size_t n;

	n = fmt_escape_comm(out, sizeof(out), "\x1b[2J\n fake 1.2", 16);
	CHECK(!strcmp(out, "\\x1b[2J\\x0a fake 1.2") && n == strlen(out), "escape: '%s'", out);
	fmt_escape_comm(out, sizeof(out), "back\\slash\x7f\xff", 16);
	CHECK(!strcmp(out, "back\\x5cslash\\x7f\\xff"), "escape backslash/DEL/high: '%s'", out);
	/* Not NUL-terminated within len: stops at len. */
	fmt_escape_comm(out, sizeof(out), "0123456789abcdefXYZ", 16);
	CHECK(!strcmp(out, "0123456789abcdef"), "escape stops at len: '%s'", out);
	/* Worst case: 15 escaped bytes fit. */
	n = fmt_escape_comm(out, sizeof(out), "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01", 16);
	CHECK(n == 60, "15 escaped bytes: %zu", n);
	/* Too small an output buffer truncates on a whole escape. */
	fmt_escape_comm(out, 7, "\x01\x02", 16);
	CHECK(!strcmp(out, "\\x01"), "truncated escape: '%s'", out);

	fmt_init(&st, false, false, 0);
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "\x1b[2J\n fake 1.2", 0);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "1234    \\x1b[2J\\x0a  4  1.2.3.4          5     5.6.7.8          22\n"),
	      "hostile COMM row: '%s'", buf);
	CHECK(strchr(buf, '\n') == buf + n - 1 && !strchr(buf, '\x1b'), "one line, no ESC");
}


static size_t make_record(unsigned char *buf, int family, const struct fmt_parts *parts,
			  const char *laddr, const char *raddr)
{
	struct event_head h = { .ts_ns = 42, .pid = 7, .tid = 8, .uid = 9, .netns = 10,
				.family = (__u16)family, .lport = 80, .rport = 40000,
				.comm = "srv" };
	struct event_queue q = { .backlog_len = 3, .backlog_max = 128, .wait_ns = 1500 };
	struct event_identity id = { .cgroup_id = 0x100000001ULL, .nspid = 8, .pidns = 11,
				     .mntns = 12 };
	size_t n = 0, alen = family == AF_INET6 ? 16 : 4;

	memcpy(buf, &h, sizeof(h));
	n += sizeof(h);
	if (parts->queue) {
		memcpy(buf + n, &q, sizeof(q));
		n += sizeof(q);
	}
	if (parts->identity) {
		memcpy(buf + n, &id, sizeof(id));
		n += sizeof(id);
	}
	inet_pton(family == AF_INET6 ? AF_INET6 : AF_INET, laddr, buf + n);
	inet_pton(family == AF_INET6 ? AF_INET6 : AF_INET, raddr, buf + n + alen);
	return n + 2 * alen;
}

TEST(decode)
{
	const struct fmt_parts plain = { false, false }, queue = { true, false },
			       identity = { false, true }, both = { true, true };
	unsigned char rec[128], want[16];
	struct event e;
	size_t n;

	/* IPv4 without -q: 56 bytes, one cache line with the ring's header. */
	n = make_record(rec, AF_INET, &plain, "127.0.0.1", "10.0.0.2");
	CHECK(n == 56, "IPv4 record is 56 bytes: %zu", n);
	CHECK(fmt_decode(rec, n, &plain, &e), "IPv4 record decodes");
	inet_pton(AF_INET, "127.0.0.1", want);
	CHECK(!memcmp(e.laddr, want, 4) && !memcmp(e.laddr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12),
	      "IPv4 laddr, rest zero");
	inet_pton(AF_INET, "10.0.0.2", want);
	CHECK(!memcmp(e.raddr, want, 4), "IPv4 raddr");
	CHECK(e.ts_ns == 42 && e.pid == 7 && e.tid == 8 && e.uid == 9 && e.netns == 10 &&
	      e.family == AF_INET && e.lport == 80 && e.rport == 40000 &&
	      !strcmp(e.comm, "srv") && e.wait_ns == WAIT_UNKNOWN && !e.cgroup_id && !e.nspid,
	      "IPv4 head fields");
	CHECK(!fmt_decode(rec, n, &queue, &e), "IPv4 record without -q part refused under -q");
	CHECK(!fmt_decode(rec, n, &identity, &e), "IPv4 record without identity refused");
	CHECK(!fmt_decode(rec, n - 1, &plain, &e) && !fmt_decode(rec, n + 8, &plain, &e),
	      "IPv4 record of the wrong size refused");

	n = make_record(rec, AF_INET6, &queue, "::1", "2001:db8::7");
	CHECK(n == 96, "IPv6 record with -q is 96 bytes: %zu", n);
	CHECK(fmt_decode(rec, n, &queue, &e), "IPv6 -q record decodes");
	inet_pton(AF_INET6, "::1", want);
	CHECK(!memcmp(e.laddr, want, 16), "IPv6 laddr");
	inet_pton(AF_INET6, "2001:db8::7", want);
	CHECK(!memcmp(e.raddr, want, 16), "IPv6 raddr");
	CHECK(e.backlog_len == 3 && e.backlog_max == 128 && e.wait_ns == 1500, "-q fields");
	CHECK(!fmt_decode(rec, n, &plain, &e), "IPv6 -q record refused without -q");

	/* The identity part after -q's, before the addresses. */
	n = make_record(rec, AF_INET6, &both, "::1", "2001:db8::7");
	CHECK(n == 120 && fmt_decode(rec, n, &both, &e), "IPv6 -q -j record: %zu", n);
	inet_pton(AF_INET6, "2001:db8::7", want);
	CHECK(!memcmp(e.raddr, want, 16) && e.wait_ns == 1500, "IPv6 -q -j raddr and wait");
	CHECK(e.cgroup_id == 0x100000001ULL && e.nspid == 8 && e.pidns == 11 && e.mntns == 12 &&
	      !e.names.cgroup && !e.names.unit && !e.names.container, "identity fields");
	CHECK(!fmt_decode(rec, n, &queue, &e), "identity part refused when not asked for");
	n = make_record(rec, AF_INET, &identity, "1.2.3.4", "5.6.7.8");
	CHECK(n == 80 && fmt_decode(rec, n, &identity, &e) && e.mntns == 12, "IPv4 -j record");

	n = make_record(rec, AF_INET, &plain, "1.2.3.4", "5.6.7.8");
	rec[offsetof(struct event_head, family)] = 1;	/* AF_UNIX */
	CHECK(!fmt_decode(rec, n, &plain, &e), "unknown family refused");
	CHECK(!fmt_decode(rec, 10, &plain, &e), "short record refused");
}


TEST(proto)
{
	struct event e = { .pid = 1234, .family = AF_INET, .lport = 80, .rport = 54321,
			   .comm = "go-api", .proto = PROTO_MPTCP, .wait_ns = WAIT_UNKNOWN };
	struct count_key key = { .pid = 1234, .labels = { .family = AF_INET, .lport = 80,
						       .comm = "go-api", .proto = PROTO_MPTCP } };
	struct config cfg;
	struct fmt_state st;
	char buf[FMT_LINE_MAX], err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--print-proto", "--btf=/tmp/x.btf")) == 0 &&
	      cfg.print_proto && !strcmp(cfg.btf_path, "/tmp/x.btf"), "--print-proto --btf");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "--print-proto")) == 0 && cfg.count &&
	      cfg.print_proto, "-c --print-proto");
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "10.0.0.2", e.raddr);
	memcpy(key.labels.laddr, e.laddr, 4);
	fmt_init(&st, false, false, 0);
	st.print_proto = true;
	buf[fmt_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP PROTO RADDR            RPORT LADDR            LPORT\n"),
	      "--print-proto header: '%s'", buf);
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  mptcp 10.0.0.2         54321 127.0.0.1        80\n"),
	      "--print-proto MPTCP row: '%s'", buf);
	e.proto = PROTO_TCP;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  tcp   10.0.0.2         54321 127.0.0.1        80\n"),
	      "--print-proto TCP row: '%s'", buf);
	buf[fmt_count_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP PROTO LADDR            LPORT ACCEPTS\n"),
	      "-c --print-proto header: '%s'", buf);
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 3 } }, NULL, 0, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  mptcp 127.0.0.1        80    3\n"),
	      "-c --print-proto row: '%s'", buf);
	st.json = true;
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 3 } }, NULL, 0, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"ip\":4,\"proto\":\"mptcp\",\"laddr\":\"127.0.0.1\","),
	      "-c -j proto: '%s'", buf);
	e.proto = PROTO_MPTCP;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"ip\":4,\"proto\":\"mptcp\",\"raddr\":\"10.0.0.2\","),
	      "-j proto: '%s'", buf);
}

static bool no_trailing_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t'))
			return false;
	return len == 0 || text[len - 1] == '\n';
}

/* Every column layout: header and rows (short ports, short addresses, the
 * most padding), -c headers and rows, the -c -q histogram. */

TEST(no_trailing_blank)
{
	struct count_key key = { .pid = 1, .labels = { .family = AF_INET, .lport = 1, .comm = "a" } };
	struct listen_series l = {};
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX], *text = NULL;
	size_t n, len = 0;
	FILE *f;

	for (unsigned int opts = 0; opts < 128; opts++) {
		for (int fam = 0; fam < 2; fam++) {
			fmt_init(&st, opts & 1, opts & 2, 0);
			st.print_uid = opts & 4;
			st.queue = opts & 8;
			st.wide = opts & 16;
			st.print_proto = opts & 32;
			st.print_service = opts & 64;
			n = fmt_header(&st, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "header, options %#x: '%.*s'", opts, (int)n, buf);
			make_event(&e, fam ? AF_INET6 : AF_INET, fam ? "::1" : "1.2.3.4", 1,
				   fam ? "::" : "0.0.0.0", 8, "x", 0);
			e.wait_ns = opts & 8 ? WAIT_UNKNOWN : 1000;
			e.names.service = fam ? "a b" : NULL;
			n = fmt_event(&st, &e, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "row, options %#x: '%.*s'", opts, (int)n, buf);
			if (opts & (1 | 2 | 4))
				continue;	/* -c takes none of -t, -T, -U */
			n = fmt_count_header(&st, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "-c header, options %#x: '%.*s'", opts, (int)n, buf);
			key.labels.family = e.family;
			memcpy(key.labels.laddr, e.laddr, sizeof(key.labels.laddr));
			n = fmt_count_row(&st, &key, &(struct count_value){ .events = { 1 } }, NULL, 0, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "-c row, options %#x: '%.*s'", opts, (int)n, buf);
		}
	}
	/* The exact -q row: BL is padded (WAIT follows), WAIT(ms) is not. */
	fmt_init(&st, false, false, 0);
	st.queue = true;
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "sshd", 0);
	e.backlog_max = 128;
	e.wait_ns = WAIT_UNKNOWN;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    sshd         4  1.2.3.4          5     5.6.7.8          22    0/128       -\n"),
	      "-q row: '%s'", buf);
	l.key = (struct listen_key){ .family = AF_INET, .lport = 1 };
	l.st.slots[0] = 1;
	l.st.wait_count = 1;
	f = open_memstream(&text, &len);
	metrics_hist_print(f, &l);
	fclose(f);
	CHECK(no_trailing_blank(text, len), "histogram:\n%s", text);
	free(text);
}


/* A name cannot forge columns: a space is \x20 in the COMM column (not in
 * -c's metrics labels, which are quoted), and the cut at 12 characters
 * falls between whole escapes. */
TEST(column_comm_cannot_forge_columns)
{
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX], out[4 * TASK_COMM_LEN + 1];
	struct count_key key = { .pid = 1234, .labels = { .family = AF_INET, .lport = 22,
						       .comm = "x 4 1.2.3.4 9" } };

	fmt_init(&st, false, false, 0);
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "x 4 1.2.3.4 9", 0);
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    x\\x204\\x201. 4  1.2.3.4          5     5.6.7.8          22\n"),
	      "spaces escaped: '%s'", buf);
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "\x1b]0;pwn\x07", 0);
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    \\x1b]0;pwn   4  1.2.3.4          5     5.6.7.8          22\n"),
	      "cut before a whole escape: '%s'", buf);
	inet_pton(AF_INET, "5.6.7.8", key.labels.laddr);
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 2 } }, NULL, 0, buf,
			  sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    x\\x204\\x201. 4  5.6.7.8          22    2\n"),
	      "-c row: '%s'", buf);
	/* --metrics' labels and JSON keep the space: they are quoted. */
	fmt_escape_comm(out, sizeof(out), "a b", 16);
	CHECK(!strcmp(out, "a b"), "label escape keeps the space: '%s'", out);
	fmt_escape_column(out, sizeof(out), "a b\\", 16);
	CHECK(!strcmp(out, "a\\x20b\\x5c"), "column escape: '%s'", out);
}

/* -x: drop and error rows in columns and JSON; accepts beside them with -a. */
TEST(failed_rows)
{
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX];

	fmt_init(&st, false, false, 0);
	st.failed = true;
	buf[fmt_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP RADDR            RPORT LADDR            LPORT REASON\n"),
	      "-x header: '%s'", buf);
	make_event(&e, AF_INET, "127.0.0.1", 40001, "127.0.0.1", 8080, "srv", 0);
	e.kind = EVENT_DROP;
	e.code = DROP_ACCEPT_QUEUE_FULL;
	e.owner_known = true;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    srv          4  127.0.0.1        40001 127.0.0.1        8080  accept_queue_full\n"),
	      "drop row: '%s'", buf);
	e.owner_known = false;
	e.code = DROP_SYN_QUEUE_FULL;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "-       -            4  127.0.0.1        40001 127.0.0.1        8080  syn_queue_full\n"),
	      "drop row, owner unknown: '%s'", buf);
	e.kind = EVENT_ERROR;
	e.code = EMFILE;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    srv          4  -                -     127.0.0.1        8080  EMFILE\n"),
	      "error row: '%s'", buf);
	e.code = 4000;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, " E4000\n"), "an errno without a name: '%s'", buf);
	st.print_service = true;
	e.names.service = "web.service";
	buf[fmt_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP RADDR            RPORT LADDR            LPORT REASON             SERVICE\n"),
	      "-x -S header: '%s'", buf);
	e.kind = EVENT_DROP;
	e.code = DROP_COOKIE_ACK;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "-       -            4  127.0.0.1        40001 127.0.0.1        8080  cookie_ack_dropped web.service\n"),
	      "-x -S drop row: '%s'", buf);
	e.kind = EVENT_ERROR;
	e.names.service = NULL;
	st.print_service = false;
	e.kind = EVENT_ACCEPT;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    srv          4  127.0.0.1        40001 127.0.0.1        8080  -\n"),
	      "accept row with -a: '%s'", buf);

	st.json = true;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, "\"event\":\"accept\",\"pid\":1234,") && !strstr(buf, "reason") &&
	      !strstr(buf, "errno"), "accept JSON: '%s'", buf);
	e.kind = EVENT_DROP;
	e.code = DROP_ACCEPT_QUEUE_FULL;
	e.stage = STAGE_ACK;
	e.owner_known = false;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, "\"event\":\"drop\",\"pid\":null,\"tid\":null,\"comm\":null,") &&
	      strstr(buf, "\"raddr\":\"127.0.0.1\",\"rport\":40001,") &&
	      strstr(buf, "\"reason\":\"accept_queue_full\",\"stage\":\"ack\"}\n"), "drop JSON: '%s'", buf);
	e.kind = EVENT_ERROR;
	e.code = ENFILE;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, "\"event\":\"error\",\"pid\":1234,\"tid\":") &&
	      strstr(buf, "\"raddr\":null,\"rport\":null,") && strstr(buf, "\"errno\":\"ENFILE\"}\n") &&
	      !strstr(buf, "reason"), "error JSON: '%s'", buf);
}

/* A drop's or an error's record carries struct event_failure. */
TEST(decode_failed)
{
	unsigned char rec[128];
	struct event_failure f = { .code = DROP_SYN_QUEUE_FULL, .stage = STAGE_SYN, .owner_known = 1 };
	const struct fmt_parts plain = { false, false }, queued = { true, false };
	struct event e;
	size_t n = make_record(rec, AF_INET, &plain, "127.0.0.1", "10.0.0.2");

	/* make_record() writes an accept: make room for the part. */
	memmove(rec + sizeof(struct event_head) + sizeof(f), rec + sizeof(struct event_head),
		n - sizeof(struct event_head));
	memcpy(rec + sizeof(struct event_head), &f, sizeof(f));
	rec[offsetof(struct event_head, kind)] = EVENT_DROP;
	n += sizeof(f);
	CHECK(n == RECORD_SIZE(EVENT_DROP, 0, 0, ADDR4_LEN), "drop record size %zu", n);
	CHECK(fmt_decode(rec, n, &plain, &e) && e.kind == EVENT_DROP && e.code == DROP_SYN_QUEUE_FULL &&
	      e.stage == STAGE_SYN && e.owner_known, "drop record decodes");
	CHECK(fmt_decode(rec, n, &queued, &e), "no -q part in a drop's record");
	CHECK(!fmt_decode(rec, n - sizeof(f), &plain, &e), "a drop without its part refused");
	rec[offsetof(struct event_head, kind)] = NR_EVENT_KINDS;
	CHECK(!fmt_decode(rec, n, &plain, &e), "unknown kind refused");
}

/* -j's identity keys: strings escaped as comm is, null where unknown; a
 * path of PATH_MAX - 1 bytes that all need escapes still fits a line. */
TEST(json_identity)
{
	static char path[4096], buf[FMT_LINE_MAX];
	struct fmt_state st;
	struct event e;
	size_t n;

	fmt_init(&st, false, false, 0);
	st.json = true;
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "nc", 0);
	e.netns = 4026531833U;
	e.names.cgroup = "/libpod_parent/libpod-4f3c";
	e.names.container = "4f3c";
	e.nspid = 8;
	e.pidns = 4026532181U;
	e.mntns = 4026532179U;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"netns\":4026531833,\"cgroup\":\"/libpod_parent/libpod-4f3c\","
		      "\"unit\":null,\"container\":\"4f3c\",\"nspid\":8,\"pidns\":4026532181,"
		      "\"mntns\":4026532179}\n"), "identity keys: '%s'", buf);
	e.names.cgroup = "/system.slice/a\"b\\c\n.service";
	e.names.unit = "a\"b.service";
	e.names.container = NULL;
	e.nspid = e.pidns = e.mntns = 0;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, "\"cgroup\":\"/system.slice/a\\u0022b\\u005cc\\u000a.service\","
		      "\"unit\":\"a\\u0022b.service\",\"container\":null,\"nspid\":null,"
		      "\"pidns\":null,\"mntns\":null}\n"), "escaped and null: '%s'", buf);
	e.names.cgroup = e.names.unit = NULL;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, "\"cgroup\":null,\"unit\":null,"), "no cgroup v2: '%s'", buf);
	memset(path, '\x01', sizeof(path) - 1);
	path[0] = '/';
	e.names.cgroup = path;
	e.names.unit = path + sizeof(path) - 256;
	n = fmt_event(&st, &e, buf, sizeof(buf));
	CHECK(n < sizeof(buf) && buf[n - 1] == '\n' && buf[n - 2] == '}' &&
	      memchr(buf, '\n', n) == buf + n - 1, "the longest path fits: %zu bytes", n);
}

/* -S: SERVICE, the last column, never padded: the short container ID, the
 * unit or the path (escaped as COMM is: a path may hold spaces), - for
 * nothing; with -c after ACCEPTS, and -c -j names the cgroup. */
TEST(service_column)
{
	struct fmt_names names = { "/system.slice/my app.service", "my app.service", NULL,
				   "my app.service" };
	struct count_key key = { .pid = 1234, .labels = { .cgroup = 77, .family = AF_INET,
						       .lport = 80, .comm = "nginx" } };
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX], err[512];
	struct config cfg;

	CHECK(parse(&cfg, err, sizeof(err), ARGS("-S")) == 0 && cfg.print_service && cfg.rows,
	      "-S");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "--print-service")) == 0 &&
	      cfg.print_service && cfg.count && !cfg.rows, "-c --print-service");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m.prom", "-S")) == 0 && cfg.rows,
	      "--metrics -S prints rows");
	fmt_init(&st, false, false, 0);
	st.print_service = true;
	buf[fmt_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP RADDR            RPORT LADDR            LPORT SERVICE\n"),
	      "header: '%s'", buf);
	make_event(&e, AF_INET, "10.0.0.2", 54321, "127.0.0.1", 80, "nginx", 0);
	e.names = names;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    nginx        4  10.0.0.2         54321 127.0.0.1        80    my\\x20app.service\n"),
	      "a unit: '%s'", buf);
	e.names.service = "4f3c2b1a09e8";
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    nginx        4  10.0.0.2         54321 127.0.0.1        80    4f3c2b1a09e8\n"),
	      "a container: '%s'", buf);
	e.names.service = NULL;
	st.queue = true;
	e.wait_ns = WAIT_UNKNOWN;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    nginx        4  10.0.0.2         54321 127.0.0.1        80    0/0         -        -\n"),
	      "nothing, after -q's WAIT(ms): '%s'", buf);
	st.queue = false;
	buf[fmt_count_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP LADDR            LPORT ACCEPTS SERVICE\n"),
	      "-c header: '%s'", buf);
	inet_pton(AF_INET, "127.0.0.1", key.labels.laddr);
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 3 } }, &names, 0, buf,
			  sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    nginx        4  127.0.0.1        80    3       my\\x20app.service\n"),
	      "-c row: '%s'", buf);
	st.json = true;
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 3 } }, &names, 0, buf,
			  sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"lport\":80,\"cgroup\":\"/system.slice/my app.service\","
		      "\"unit\":\"my app.service\",\"container\":null,\"accepts\":3}\n"), "-c -j -S: '%s'", buf);
	st.print_service = false;
	buf[fmt_count_row(&st, &key, &(struct count_value){ .events = { 3 } }, &names, 0, buf,
			  sizeof(buf))] = '\0';
	CHECK(!strstr(buf, "cgroup"), "-c -j without -S: '%s'", buf);
}
