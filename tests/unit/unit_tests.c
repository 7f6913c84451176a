// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests of tcpaccept's pure code: option parsing, row formatting and
 * the metrics exposition. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <sys/stat.h>
#include "args.h"
#include "format.h"
#include "metrics.h"

static int passed, failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

/* Runs parse_args() on a NULL-terminated argument list, capturing what it
 * writes to stderr in @err. */
static int parse(struct config *cfg, char *err, size_t errlen, const char **args)
{
	char *argv[32] = { "tcpaccept" };
	int argc = 1, saved, rc;
	FILE *tmp = tmpfile();
	size_t n;

	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	rc = parse_args(argc, argv, cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })
#define TRY_HELP "Try 'tcpaccept --help' for more information.\n"

static void test_good_options(void)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ((const char *[]){ NULL })) == 0, "no options");
	CHECK(cfg.pid == 0 && !cfg.filter_ports && cfg.family == 0 && !cfg.timestamp &&
	      !cfg.wallclock && cfg.way == WAY_AUTO && cfg.ring_kb == 1024 &&
	      !cfg.exit_now, "defaults");

	CHECK(parse(&cfg, err, sizeof(err), ARGS("-t", "-T", "-p", "4194304", "-P", "80,65535,1", "-4")) == 0,
	      "good short options: %s", err);
	CHECK(cfg.timestamp && cfg.wallclock && cfg.pid == 4194304 && cfg.family == AF_INET,
	      "short options parsed");
	CHECK(cfg.filter_ports && port_selected(&cfg, 80) && port_selected(&cfg, 65535) &&
	      port_selected(&cfg, 1) && !port_selected(&cfg, 81) && !port_selected(&cfg, 0),
	      "port list parsed");

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--ipv6", "--pid=1", "--port=443", "--way=kprobe",
						 "--ring-kb=4", "--timestamp", "--time", "--verbose")) == 0,
	      "good long options: %s", err);
	CHECK(cfg.family == AF_INET6 && cfg.pid == 1 && port_selected(&cfg, 443) &&
	      !port_selected(&cfg, 442) && !port_selected(&cfg, 444) &&
	      cfg.way == WAY_KPROBE && cfg.ring_kb == 4 && cfg.timestamp &&
	      cfg.wallclock && cfg.verbose, "long options parsed");

	/* --backend: --way's earlier name, hidden from --help, still accepted. */
	for (int b = WAY_AUTO; b < NR_WAYS; b++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--way=%s", way_name(b));
		CHECK(parse(&cfg, err, sizeof(err), ARGS(opt)) == 0 && cfg.way == (enum way)b,
		      "%s", opt);
		snprintf(opt, sizeof(opt), "--backend=%s", way_name(b));
		CHECK(parse(&cfg, err, sizeof(err), ARGS(opt)) == 0 && cfg.way == (enum way)b,
		      "%s", opt);
	}
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--backend", "tracepoint")) == 0 &&
	      cfg.way == WAY_TRACEPOINT, "--backend tracepoint: %s", err);

	/* 64 ports, some repeated. */
	char ports[64 * 6] = "";
	for (int i = 0; i < 64; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%d", i ? "," : "", 1000 + i % 60);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", ports)) == 0 && port_selected(&cfg, 1059) &&
	      !port_selected(&cfg, 1060), "64 ports");
}

static void test_bad_options(void)
{
	static const struct {
		const char *args[4];
		const char *message;	/* what the first line must contain */
	} cases[] = {
		{ { "--bogus" }, "unrecognized option '--bogus'" },
		{ { "-x" }, "invalid option -- 'x'" },
		{ { "extra" }, "unexpected argument 'extra'" },
		{ { "-t", "extra" }, "unexpected argument 'extra'" },
		{ { "-p" }, "option requires an argument -- 'p'" },
		{ { "-p", "abc" }, "invalid PID 'abc'" },
		{ { "-p", "" }, "invalid PID ''" },
		{ { "-p", "0" }, "invalid PID '0'" },
		{ { "-p", "-5" }, "invalid PID '-5'" },
		{ { "-p", "+5" }, "invalid PID '+5'" },
		{ { "-p", "12abc" }, "invalid PID '12abc'" },
		{ { "-p", "4194305" }, "invalid PID '4194305'" },
		{ { "-p", "99999999999999999999999" }, "invalid PID '99999999999999999999999'" },
		{ { "-p", " 5" }, "invalid PID ' 5'" },
		{ { "-P", "" }, "invalid port list '': empty item" },
		{ { "-P", "80,,81" }, "invalid port list '80,,81': empty item" },
		{ { "-P", "80," }, "invalid port list '80,': empty item" },
		{ { "-P", ",80" }, "invalid port list ',80': empty item" },
		{ { "-P", "0" }, "invalid port list '0': '0' is not a port" },
		{ { "-P", "65536" }, "invalid port list '65536'" },
		{ { "-P", "80,-1" }, "invalid port list '80,-1'" },
		{ { "-P", "http" }, "invalid port list 'http'" },
		{ { "-P", "80 81" }, "invalid port list '80 81'" },
		{ { "-P", "18446744073709551696" }, "invalid port list '18446744073709551696'" },
		{ { "-4", "-6" }, "-4 and -6 are exclusive" },
		{ { "-6", "--ipv4" }, "-4 and -6 are exclusive" },
		{ { "--way=bogus" }, "unknown way in 'bogus': expected auto, fexit, " },
		{ { "--way=" }, "unknown way in ''" },
		{ { "--way" }, "option '--way' requires an argument" },
		{ { "--backend=bogus" }, "unknown way in 'bogus'" },
		{ { "--backend" }, "option '--backend' requires an argument" },
		{ { "--ring-kb=3" }, "invalid ring buffer size '3'" },
		{ { "--ring-kb=4096000" }, "invalid ring buffer size '4096000'" },
		{ { "--ring-kb=100" }, "invalid ring buffer size '100'" },
		{ { "--verbose=1" }, "option '--verbose' doesn't allow an argument" },
		{ { "--btf=" }, "invalid BTF file ''" },
		{ { "--btf" }, "option '--btf' requires an argument" },
		{ { "--print-proto=1" }, "option '--print-proto' doesn't allow an argument" },
	};
	struct config cfg;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[5] = { NULL };
		int rc;

		memcpy(args, cases[i].args, sizeof(cases[i].args));
		rc = parse(&cfg, err, sizeof(err), args);
		CHECK(rc == EXIT_USAGE, "case %zu (%s): exit %d, want 64", i, cases[i].message, rc);
		CHECK(strncmp(err, "tcpaccept: ", 11) == 0 && strstr(err, cases[i].message),
		      "case %zu: message '%s' lacks '%s'", i, err, cases[i].message);
		/* One line; a second, "Try --help", after a mistake in what the
		 * command line names (getopt's errors, a stray argument). */
		CHECK(strchr(err, '\n') == err + strlen(err) - 1 ||
		      !strcmp(strchr(err, '\n'), "\n" TRY_HELP),
		      "case %zu: want one line (or a Try line after it), got '%s'", i, err);
	}
}

static void make_event(struct event *e, int family, const char *raddr, __u16 rport,
		       const char *laddr, __u16 lport, const char *comm, __u64 ts_ns)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = ts_ns;
	e->pid = 1234;
	e->tid = 1235;
	e->family = (__u16)family;
	e->rport = rport;
	e->lport = lport;
	inet_pton(family, raddr, e->raddr);
	inet_pton(family, laddr, e->laddr);
	memcpy(e->comm, comm, strnlen(comm, sizeof(e->comm)));
}

static void test_format(void)
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

static void test_escape(void)
{
	struct fmt_state st;
	struct event e;
	char out[4 * TASK_COMM_LEN + 1], buf[FMT_LINE_MAX];
	size_t n;

	n = escape_comm(out, sizeof(out), "\x1b[2J\n fake 1.2", 16);
	CHECK(!strcmp(out, "\\x1b[2J\\x0a fake 1.2") && n == strlen(out), "escape: '%s'", out);
	escape_comm(out, sizeof(out), "back\\slash\x7f\xff", 16);
	CHECK(!strcmp(out, "back\\x5cslash\\x7f\\xff"), "escape backslash/DEL/high: '%s'", out);
	/* Not NUL-terminated within len: stops at len. */
	escape_comm(out, sizeof(out), "0123456789abcdefXYZ", 16);
	CHECK(!strcmp(out, "0123456789abcdef"), "escape stops at len: '%s'", out);
	/* Worst case: 15 escaped bytes fit. */
	n = escape_comm(out, sizeof(out), "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01", 16);
	CHECK(n == 60, "15 escaped bytes: %zu", n);
	/* Too small an output buffer truncates on a whole escape. */
	escape_comm(out, 7, "\x01\x02", 16);
	CHECK(!strcmp(out, "\\x01"), "truncated escape: '%s'", out);

	fmt_init(&st, false, false, 0);
	make_event(&e, AF_INET, "1.2.3.4", 5, "5.6.7.8", 22, "\x1b[2J\n fake 1.2", 0);
	n = fmt_event(&st, &e, buf, sizeof(buf));
	buf[n] = '\0';
	CHECK(!strcmp(buf, "1234    \\x1b[2J\\x0a  4  1.2.3.4          5     5.6.7.8          22\n"),
	      "hostile COMM row: '%s'", buf);
	CHECK(strchr(buf, '\n') == buf + n - 1 && !strchr(buf, '\x1b'), "one line, no ESC");
}

/* Builds a record as the kernel side does (tcpaccept.h) into @buf. */
static size_t make_record(unsigned char *buf, int family, bool queue, const char *laddr,
			  const char *raddr)
{
	struct event_head h = { .ts_ns = 42, .pid = 7, .tid = 8, .uid = 9, .netns = 10,
				.family = (__u16)family, .lport = 80, .rport = 40000,
				.comm = "srv" };
	struct event_queue q = { .backlog_len = 3, .backlog_max = 128, .wait_ns = 1500 };
	size_t n = 0, alen = family == AF_INET6 ? 16 : 4;

	memcpy(buf, &h, sizeof(h));
	n += sizeof(h);
	if (queue) {
		memcpy(buf + n, &q, sizeof(q));
		n += sizeof(q);
	}
	inet_pton(family == AF_INET6 ? AF_INET6 : AF_INET, laddr, buf + n);
	inet_pton(family == AF_INET6 ? AF_INET6 : AF_INET, raddr, buf + n + alen);
	return n + 2 * alen;
}

static void test_decode(void)
{
	unsigned char rec[128], want[16];
	struct event e;
	size_t n;

	/* IPv4 without -q: 56 bytes, one cache line with the ring's header. */
	n = make_record(rec, AF_INET, false, "127.0.0.1", "10.0.0.2");
	CHECK(n == 56, "IPv4 record is 56 bytes: %zu", n);
	CHECK(event_decode(rec, n, false, &e), "IPv4 record decodes");
	inet_pton(AF_INET, "127.0.0.1", want);
	CHECK(!memcmp(e.laddr, want, 4) && !memcmp(e.laddr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12),
	      "IPv4 laddr, rest zero");
	inet_pton(AF_INET, "10.0.0.2", want);
	CHECK(!memcmp(e.raddr, want, 4), "IPv4 raddr");
	CHECK(e.ts_ns == 42 && e.pid == 7 && e.tid == 8 && e.uid == 9 && e.netns == 10 &&
	      e.family == AF_INET && e.lport == 80 && e.rport == 40000 &&
	      !strcmp(e.comm, "srv") && e.wait_ns == WAIT_UNKNOWN,
	      "IPv4 head fields");
	CHECK(!event_decode(rec, n, true, &e), "IPv4 record without -q part refused under -q");
	CHECK(!event_decode(rec, n - 1, false, &e) && !event_decode(rec, n + 8, false, &e),
	      "IPv4 record of the wrong size refused");

	n = make_record(rec, AF_INET6, true, "::1", "2001:db8::7");
	CHECK(n == 96, "IPv6 record with -q is 96 bytes: %zu", n);
	CHECK(event_decode(rec, n, true, &e), "IPv6 -q record decodes");
	inet_pton(AF_INET6, "::1", want);
	CHECK(!memcmp(e.laddr, want, 16), "IPv6 laddr");
	inet_pton(AF_INET6, "2001:db8::7", want);
	CHECK(!memcmp(e.raddr, want, 16), "IPv6 raddr");
	CHECK(e.backlog_len == 3 && e.backlog_max == 128 && e.wait_ns == 1500, "-q fields");
	CHECK(!event_decode(rec, n, false, &e), "IPv6 -q record refused without -q");

	n = make_record(rec, AF_INET, false, "1.2.3.4", "5.6.7.8");
	rec[offsetof(struct event_head, family)] = 1;	/* AF_UNIX */
	CHECK(!event_decode(rec, n, false, &e), "unknown family refused");
	CHECK(!event_decode(rec, 10, false, &e), "short record refused");
}

/* --print-proto and the proto of -j rows and -c tables. */
static void test_proto(void)
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
	buf[fmt_count_row(&st, &key, 3, 0, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  mptcp 127.0.0.1        80    3\n"),
	      "-c --print-proto row: '%s'", buf);
	st.json = true;
	buf[fmt_count_row(&st, &key, 3, 0, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"ip\":4,\"proto\":\"mptcp\",\"laddr\":\"127.0.0.1\","),
	      "-c -j proto: '%s'", buf);
	e.proto = PROTO_MPTCP;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(strstr(buf, ",\"ip\":4,\"proto\":\"mptcp\",\"raddr\":\"10.0.0.2\","),
	      "-j proto: '%s'", buf);
}

static void test_metrics_options(void)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/x/m.prom")) == 0, "--metrics: %s", err);
	CHECK(cfg.metrics && !strcmp(cfg.metrics, "/x/m.prom") && cfg.metrics_interval == 15 &&
	      cfg.max_series == 4096 && !cfg.rows, "--metrics alone: no rows, every 15 s");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=m", "-i", "2", "-j")) == 0 &&
	      cfg.metrics_interval == 2 && cfg.rows && !cfg.count, "--metrics -i 2 -j: rows");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=m", "-c")) == 0 &&
	      cfg.metrics_interval == 15 && !cfg.rows && cfg.interval == 0, "--metrics -c");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=m", "--metrics-max-series=1")) == 0 &&
	      cfg.max_series == 1, "--metrics-max-series=1");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "-q")) == 0 && cfg.count && cfg.queue,
	      "-c -q: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-o", "/tmp/x")) == 0 && cfg.rows &&
	      !strcmp(cfg.output, "/tmp/x"), "-o");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=m", "-o", "f")) == 0 && cfg.rows,
	      "--metrics -o: rows to the file");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-i", "5")) == 64 &&
	      strstr(err, "-i/--interval needs -c/--count or --metrics"), "-i alone: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=")) == 64 &&
	      strstr(err, "invalid metrics path ''"), "empty --metrics: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=m", "--metrics-max-series=0")) == 64 &&
	      strstr(err, "invalid series cap '0'"), "cap 0: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-o", "")) == 64 &&
	      strstr(err, "invalid output file ''"), "empty -o: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "-t")) == 64 &&
	      strstr(err, "-c/--count does not combine with -t, -T or -U"), "-c -t: %s", err);
}

static char *format_snapshot(const struct metrics_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	metrics_format(f, s);
	fclose(f);
	return text;
}

static void test_metrics_format(void)
{
	struct metric_series totals[2] = {};
	struct listen_series l = {};
	struct metrics_snapshot s = {
		.totals = totals, .ntotals = 2, .listeners = &l, .nlisteners = 1,
		.lost = 7, .count_overflow = 8, .totals_overflow = 9, .listen_overflow = 10,
		.max_series = 4096, .version = "0.1.0", .libbpf = "1.1", .way = "fexit",
		.now = 1700000000.5, .start = 1699999999.25,
	};
	char esc[64], *text;

	totals[0].key.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", totals[0].key.laddr);
	totals[0].key.lport = 8080;
	memcpy(totals[0].key.comm, "a\"b\\c\nd\x1b", 9);
	totals[0].accepts = 42;
	totals[1].key.family = AF_INET6;
	inet_pton(AF_INET6, "::1", totals[1].key.laddr);
	totals[1].key.lport = 443;
	memcpy(totals[1].key.comm, "nginx", 5);
	totals[1].key.proto = PROTO_MPTCP;
	totals[1].accepts = 3;
	l.key = (struct listen_key){ .family = AF_INET, .lport = 8080 };
	inet_pton(AF_INET, "127.0.0.1", l.key.laddr);
	l.st.slots[0] = 1;		/* 0-1 us */
	l.st.slots[14] = 4;		/* 16.384-32.767 ms */
	l.st.slots[WAIT_SLOTS - 1] = 2;	/* open-ended */
	l.st.wait_count = 7;
	l.st.wait_sum_ns = 1500000000ULL;
	l.st.wait_unknown = 5;
	l.st.backlog = 3;
	l.st.backlog_max = 128;
	l.st.peak = 9;
	l.peak_valid = true;

	text = format_snapshot(&s);
	/* escape_comm's text (\x5c for the backslash), then the format's escapes. */
	CHECK(strstr(text, "tcpaccept_accepts_total{comm=\"a\\\"b\\\\x5cc\\\\x0ad\\\\x1b\",ip=\"4\","
			   "laddr=\"127.0.0.1\",lport=\"8080\",proto=\"tcp\"} 42\n"), "escaped comm: %s", text);
	CHECK(strstr(text, "tcpaccept_accepts_total{comm=\"nginx\",ip=\"6\",laddr=\"::1\",lport=\"443\",proto=\"mptcp\"} 3\n"),
	      "IPv6 series");
	CHECK(strstr(text, "# HELP tcpaccept_accepts_total ") && strstr(text, "# TYPE tcpaccept_accepts_total counter\n"),
	      "HELP and TYPE");
	CHECK(strstr(text, "# TYPE tcpaccept_accept_wait_seconds histogram\n"), "histogram TYPE");
	CHECK(strstr(text, "_bucket{laddr=\"127.0.0.1\",lport=\"8080\",le=\"0.000002\"} 1\n"), "slot 0");
	CHECK(strstr(text, "_bucket{laddr=\"127.0.0.1\",lport=\"8080\",le=\"0.016384\"} 1\n"), "slot 13: %s", text);
	CHECK(strstr(text, "_bucket{laddr=\"127.0.0.1\",lport=\"8080\",le=\"0.032768\"} 5\n"), "slot 14");
	CHECK(strstr(text, "_bucket{laddr=\"127.0.0.1\",lport=\"8080\",le=\"2147.483648\"} 5\n"), "slot 30");
	CHECK(strstr(text, "_bucket{laddr=\"127.0.0.1\",lport=\"8080\",le=\"+Inf\"} 7\n"), "+Inf");
	CHECK(strstr(text, "tcpaccept_accept_wait_seconds_sum{laddr=\"127.0.0.1\",lport=\"8080\"} 1.500000000\n"), "sum");
	CHECK(strstr(text, "tcpaccept_accept_wait_seconds_count{laddr=\"127.0.0.1\",lport=\"8080\"} 7\n"), "count");
	CHECK(strstr(text, "tcpaccept_accept_wait_unknown_total{laddr=\"127.0.0.1\",lport=\"8080\"} 5\n"), "unknown");
	CHECK(strstr(text, "tcpaccept_listen_backlog{laddr=\"127.0.0.1\",lport=\"8080\"} 3\n"), "backlog");
	CHECK(strstr(text, "tcpaccept_listen_backlog_max{laddr=\"127.0.0.1\",lport=\"8080\"} 128\n"), "max");
	CHECK(strstr(text, "tcpaccept_listen_backlog_peak{laddr=\"127.0.0.1\",lport=\"8080\"} 9\n"), "peak");
	CHECK(strstr(text, "tcpaccept_lost_events_total 7\n") && strstr(text, "tcpaccept_count_overflow_total 8\n") &&
	      strstr(text, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accepts_total\"} 9\n") &&
	      strstr(text, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accept_wait_seconds\"} 10\n"),
	      "health");
	CHECK(strstr(text, "tcpaccept_info{version=\"0.1.0\",libbpf=\"1.1\",way=\"fexit\"} 1\n"), "info");
	CHECK(strstr(text, "tcpaccept_metrics_timestamp_seconds 1700000000.500\n") &&
	      strstr(text, "tcpaccept_start_time_seconds 1699999999.250\n"), "timestamps");
	/* Every metric name in a sample line has HELP and TYPE. */
	for (char *line = text; *line; line = strchr(line, '\n') + 1) {
		char name[128], help[160];
		size_t n = strcspn(line, "{ ");

		if (*line != '#' && n < sizeof(name)) {
			memcpy(name, line, n);
			name[n] = '\0';
			/* A histogram's samples: _bucket, _sum, _count. */
			if (strstr(name, "_wait_seconds_"))
				*strrchr(name, '_') = '\0';
			snprintf(help, sizeof(help), "# TYPE %s ", name);
			CHECK(strstr(text, help), "no TYPE for %s", name);
		}
	}
	free(text);
	l.peak_valid = false;
	text = format_snapshot(&s);
	CHECK(strstr(text, "tcpaccept_listen_backlog_peak{laddr=\"127.0.0.1\",lport=\"8080\"} 3\n"),
	      "no accept in the interval: the peak is the last backlog");
	free(text);

	CHECK(metrics_escape_label(esc, sizeof(esc), "\\\"\n", 3) == 6 && !strcmp(esc, "\\\\\\\"\\n"),
	      "label escapes: %s", esc);
	CHECK(metrics_escape_label(esc, 4, "abcdef", 6) == 3 && !strcmp(esc, "abc"), "cut to size");
	CHECK(metrics_escape_label(esc, 5, "a\x01", 2) == 1 && !strcmp(esc, "a"), "no half escape");
	CHECK(wait_slot_le(0) == 2e-6 && wait_slot_le(9) == 1024e-6, "le");
}

static void test_hist_print(void)
{
	struct listen_series l = {}, before = {};
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	l.key = (struct listen_key){ .family = AF_INET, .lport = 8080 };
	inet_pton(AF_INET, "127.0.0.1", l.key.laddr);
	l.st.slots[0] = 1;
	l.st.slots[2] = 4;
	l.st.wait_count = 5;
	l.st.wait_sum_ns = 10000;
	l.st.wait_unknown = 2;
	f = open_memstream(&text, &len);
	hist_print(f, &l);
	fclose(f);
	CHECK(!strcmp(text,
		      "\nWAIT for 127.0.0.1 port 8080: 5 accepts, 2 with an unknown wait\n"
		      "     usecs               : count    distribution\n"
		      "         0 -> 1          : 1        |**********                              |\n"
		      "         2 -> 3          : 0        |                                        |\n"
		      "         4 -> 7          : 4        |****************************************|\n"),
	      "text histogram:\n%s", text);
	free(text);
	f = open_memstream(&text, &len);
	hist_print_json(f, &l, 1.5);
	fclose(f);
	CHECK(!strcmp(text, "{\"ts\":1.500000,\"ip\":4,\"laddr\":\"127.0.0.1\",\"lport\":8080,\"unit\":\"usecs\","
			    "\"count\":5,\"sum_us\":10.000,\"unknown\":2,\"buckets\":[{\"low\":0,\"high\":1,\"count\":1},"
			    "{\"low\":2,\"high\":3,\"count\":0},{\"low\":4,\"high\":7,\"count\":4}]}\n"),
	      "JSON histogram: %s", text);
	free(text);
	before.st.slots[2] = 3;
	before.st.wait_count = 3;
	before.st.wait_unknown = 2;
	listen_stats_sub(&l.st, &before.st);
	CHECK(l.st.slots[0] == 1 && l.st.slots[2] == 1 && l.st.wait_count == 2 && l.st.wait_unknown == 0,
	      "interval difference");
}

static void test_metrics_write_file(void)
{
	char dir[] = "/tmp/tcpaccept-unit-XXXXXX", path[128], buf[64];
	struct stat st;
	FILE *f;
	size_t n;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	CHECK(metrics_write_file(path, "one\n", 4) == 0, "first write");
	CHECK(metrics_write_file(path, "two two\n", 8) == 0, "second write");
	f = fopen(path, "r");
	n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	CHECK(n == 8 && !memcmp(buf, "two two\n", 8), "the file holds the last write");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644");
	snprintf(path, sizeof(path), "%s/no/such/m.prom", dir);
	CHECK(metrics_write_file(path, "x", 1) == -ENOENT, "missing directory: -ENOENT");
	snprintf(path, sizeof(path), "rm -r %s", dir);
	CHECK(system(path) == 0, "clean up");
}

/* --- issue 16: what a new user meets first ----------------------------------- */

static int count_ports(const struct config *cfg)
{
	int n = 0;

	for (unsigned int port = 0; port < 65536; port++)
		n += port_selected(cfg, port);
	return n;
}

static void test_port_ranges(void)
{
	static const char *const bad[][2] = {
		{ "90-80", "range '90-80' ends before it starts" },
		{ "80,443-442", "range '443-442' ends before it starts" },
		{ "0", "'0' is not a port 1-65535" },
		{ "65536", "'65536' is not a port 1-65535" },
		{ "0-10", "'0-10' is not a port" },
		{ "10-65536", "'10-65536' is not a port" },
		{ "80-", "'80-' is not a port" },
		{ "-80", "'-80' is not a port" },
		{ "80-90-100", "'80-90-100' is not a port" },
		{ "80--90", "'80--90' is not a port" },
		{ "8-a", "'8-a' is not a port" },
		{ "80-+90", "'80-+90' is not a port" },
		{ "80- 90", "'80- 90' is not a port" },
		{ "1-18446744073709551617", "'1-18446744073709551617' is not a port" },
		{ "", "empty item" },
		{ "80,,90", "empty item" },
		{ "80-90,", "empty item" },
	};
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", "80-90,443,8000-8100")) == 0,
	      "-P 80-90,443,8000-8100: %s", err);
	CHECK(port_selected(&cfg, 80) && port_selected(&cfg, 85) && port_selected(&cfg, 90) &&
	      !port_selected(&cfg, 79) && !port_selected(&cfg, 91) && port_selected(&cfg, 443) &&
	      port_selected(&cfg, 8000) && port_selected(&cfg, 8100) && !port_selected(&cfg, 8101),
	      "ranges and a port");
	CHECK(count_ports(&cfg) == 11 + 1 + 101, "113 ports, more than the old 64: %d",
	      count_ports(&cfg));
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", "1-65535")) == 0 && count_ports(&cfg) == 65535 &&
	      !port_selected(&cfg, 0), "-P 1-65535: every port");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--port=22-22,22,20-25")) == 0 &&
	      count_ports(&cfg) == 6, "a one-port range, overlaps");
	/* A later -P replaces an earlier one, as for every other option. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", "80-90", "-P", "443")) == 0 &&
	      count_ports(&cfg) == 1 && port_selected(&cfg, 443), "the last -P counts");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&cfg, err, sizeof(err), ARGS("-P", bad[i][0]));

		CHECK(rc == EXIT_USAGE && !strncmp(err, "tcpaccept: invalid port list '", 30) &&
		      strstr(err, bad[i][1]) && strchr(err, '\n') == err + strlen(err) - 1,
		      "-P '%s': exit %d, '%s' (want one line with '%s')", bad[i][0], rc, err, bad[i][1]);
	}
}

static void test_try_help(void)
{
	static const char *const named[][2] = {
		{ "--bogus", "tcpaccept: unrecognized option '--bogus'\n" },
		{ "-x", "tcpaccept: invalid option -- 'x'\n" },
		{ "-p", "tcpaccept: option requires an argument -- 'p'\n" },
		{ "--json=1", "tcpaccept: option '--json' doesn't allow an argument\n" },
		{ "80", "tcpaccept: unexpected argument '80'\n" },
	};
	struct config cfg;
	char err[512], want[256];

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		snprintf(want, sizeof(want), "%s%s", named[i][1], TRY_HELP);
		CHECK(parse(&cfg, err, sizeof(err), ARGS(named[i][0])) == EXIT_USAGE && !strcmp(err, want),
		      "%s: '%s', want '%s'", named[i][0], err, want);
	}
	/* An error in a value says what is expected: no Try line. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-p", "abc")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: invalid PID 'abc': expected 1-4194304\n"), "-p abc: '%s'", err);
}

static void test_client_family(void)
{
	static const char *const bad[][3] = {
		{ "--client-family=5", NULL, "invalid client family '5': expected 4 or 6" },
		{ "--client-family=", NULL, "invalid client family '': expected 4 or 6" },
		{ "--client-family=ipv4", NULL, "invalid client family 'ipv4'" },
		{ "--client-family=44", NULL, "invalid client family '44'" },
		{ "-4", "--client-family=6", "-4 and --client-family=6 select nothing" },
	};
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--client-family=4")) == 0 &&
	      cfg.client_family == AF_INET && cfg.family == 0, "--client-family=4: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--client-family", "6")) == 0 &&
	      cfg.client_family == AF_INET6 && cfg.family == 0, "--client-family 6: %s", err);
	/* IPv4 clients that reach IPv6 sockets: the mapped ones only. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-6", "--client-family=4")) == 0 &&
	      cfg.client_family == AF_INET && cfg.family == AF_INET6, "-6 --client-family=4: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--client-family=4", "-4")) == 0 &&
	      cfg.client_family == AF_INET && cfg.family == AF_INET, "-4 --client-family=4: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-4")) == 0 && cfg.client_family == 0,
	      "-4 alone leaves the client's family open");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = bad[i][1] ? parse(&cfg, err, sizeof(err), ARGS(bad[i][0], bad[i][1]))
				   : parse(&cfg, err, sizeof(err), ARGS(bad[i][0]));

		CHECK(rc == EXIT_USAGE && !strncmp(err, "tcpaccept: ", 11) && strstr(err, bad[i][2]) &&
		      strchr(err, '\n') == err + strlen(err) - 1,
		      "%s %s: exit %d, '%s'", bad[i][0], bad[i][1] ? bad[i][1] : "", rc, err);
	}
}

/* False if any line of @text (@len bytes) ends in a blank. */
static bool no_trailing_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t'))
			return false;
	return len == 0 || text[len - 1] == '\n';
}

/* Every column layout: header and rows (short ports, short addresses, the
 * most padding), -c headers and rows, the -c -q histogram. */
static void test_no_trailing_blank(void)
{
	struct count_key key = { .pid = 1, .labels = { .family = AF_INET, .lport = 1, .comm = "a" } };
	struct listen_series l = {};
	struct fmt_state st;
	struct event e;
	char buf[FMT_LINE_MAX], *text = NULL;
	size_t n, len = 0;
	FILE *f;

	for (unsigned int opts = 0; opts < 64; opts++) {
		for (int fam = 0; fam < 2; fam++) {
			fmt_init(&st, opts & 1, opts & 2, 0);
			st.print_uid = opts & 4;
			st.queue = opts & 8;
			st.wide = opts & 16;
			st.print_proto = opts & 32;
			n = fmt_header(&st, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "header, options %#x: '%.*s'", opts, (int)n, buf);
			make_event(&e, fam ? AF_INET6 : AF_INET, fam ? "::1" : "1.2.3.4", 1,
				   fam ? "::" : "0.0.0.0", 8, "x", 0);
			e.wait_ns = opts & 8 ? WAIT_UNKNOWN : 1000;
			n = fmt_event(&st, &e, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "row, options %#x: '%.*s'", opts, (int)n, buf);
			if (opts & (1 | 2 | 4))
				continue;	/* -c takes none of -t, -T, -U */
			n = fmt_count_header(&st, buf, sizeof(buf));
			CHECK(no_trailing_blank(buf, n), "-c header, options %#x: '%.*s'", opts, (int)n, buf);
			key.labels.family = e.family;
			memcpy(key.labels.laddr, e.laddr, sizeof(key.labels.laddr));
			n = fmt_count_row(&st, &key, 1, 0, buf, sizeof(buf));
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
	hist_print(f, &l);
	fclose(f);
	CHECK(no_trailing_blank(text, len), "histogram:\n%s", text);
	free(text);
}

int main(void)
{
	test_good_options();
	test_bad_options();
	test_format();
	test_decode();
	test_escape();
	test_proto();
	test_metrics_options();
	test_metrics_format();
	test_hist_print();
	test_metrics_write_file();
	test_port_ranges();
	test_try_help();
	test_client_family();
	test_no_trailing_blank();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
