// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests of tcpaccept's pure code: option parsing and row formatting. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "args.h"
#include "format.h"

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

static void test_good_options(void)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ((const char *[]){ NULL })) == 0, "no options");
	CHECK(cfg.pid == 0 && cfg.nports == 0 && cfg.family == 0 && !cfg.timestamp &&
	      !cfg.wallclock && cfg.backend == BACKEND_AUTO && cfg.ring_kb == 1024 &&
	      !cfg.exit_now, "defaults");

	CHECK(parse(&cfg, err, sizeof(err), ARGS("-t", "-T", "-p", "4194304", "-P", "80,65535,1", "-4")) == 0,
	      "good short options: %s", err);
	CHECK(cfg.timestamp && cfg.wallclock && cfg.pid == 4194304 && cfg.family == AF_INET,
	      "short options parsed");
	CHECK(cfg.nports == 3 && cfg.ports[0] == 80 && cfg.ports[1] == 65535 && cfg.ports[2] == 1,
	      "port list parsed");

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--ipv6", "--pid=1", "--port=443", "--backend=kprobe",
						 "--ring-kb=4", "--timestamp", "--time", "--verbose")) == 0,
	      "good long options: %s", err);
	CHECK(cfg.family == AF_INET6 && cfg.pid == 1 && cfg.nports == 1 && cfg.ports[0] == 443 &&
	      cfg.backend == BACKEND_KPROBE && cfg.ring_kb == 4 && cfg.timestamp &&
	      cfg.wallclock && cfg.verbose, "long options parsed");

	for (int b = BACKEND_AUTO; b <= BACKEND_TRACEPOINT; b++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--backend=%s", backend_name(b));
		CHECK(parse(&cfg, err, sizeof(err), ARGS(opt)) == 0 && cfg.backend == (enum backend)b,
		      "%s", opt);
	}

	/* 64 ports, the limit, some repeated. */
	char ports[64 * 6] = "";
	for (int i = 0; i < 64; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%d", i ? "," : "", 1000 + i % 60);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", ports)) == 0 && cfg.nports == 64, "64 ports");
}

static void test_bad_options(void)
{
	static const struct {
		const char *args[4];
		const char *message;	/* what the one line must contain */
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
		{ { "-P", "0" }, "invalid port list '0'" },
		{ { "-P", "65536" }, "invalid port list '65536'" },
		{ { "-P", "80,-1" }, "invalid port list '80,-1'" },
		{ { "-P", "http" }, "invalid port list 'http'" },
		{ { "-P", "80 81" }, "invalid port list '80 81'" },
		{ { "-P", "18446744073709551696" }, "invalid port list '18446744073709551696'" },
		{ { "-4", "-6" }, "-4 and -6 are exclusive" },
		{ { "-6", "--ipv4" }, "-4 and -6 are exclusive" },
		{ { "--backend=bogus" }, "unknown backend 'bogus'" },
		{ { "--backend=" }, "unknown backend ''" },
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
		CHECK(strchr(err, '\n') == err + strlen(err) - 1,
		      "case %zu: want exactly one line, got '%s'", i, err);
	}

	/* 65 ports: one over the limit. */
	char ports[65 * 6] = "";
	for (int i = 0; i < 65; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%d", i ? "," : "", 80);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", ports)) == EXIT_USAGE && strstr(err, "at most 64 ports"),
	      "65 ports refused: '%s'", err);
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
	CHECK(!strcmp(buf, "1234    nginx        4  10.1.2.3         54321 127.0.0.1        80   \n"),
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
	CHECK(!strcmp(buf, "1234    srv          6  ::ffff:127.0.0.1 40000 ::ffff:127.0.0.1 8080 \n"),
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
	CHECK(!strcmp(buf, "0.000    1234    sshd         4  1.2.3.4          5     5.6.7.8          22   \n"),
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
	CHECK(!strcmp(buf, "1234    \\x1b[2J\\x0a  4  1.2.3.4          5     5.6.7.8          22   \n"),
	      "hostile COMM row: '%s'", buf);
	CHECK(strchr(buf, '\n') == buf + n - 1 && !strchr(buf, '\x1b'), "one line, no ESC");
}

/* Builds a record as the kernel side does (tcpaccept.h) into @buf. */
static size_t make_record(unsigned char *buf, int family, bool queue, const char *laddr,
			  const char *raddr)
{
	struct event_head h = { .ts_ns = 42, .pid = 7, .tid = 8, .uid = 9, .netns = 10,
				.family = (__u16)family, .lport = 80, .rport = 40000,
				.way_in = WAY_TRACEPOINT, .comm = "srv" };
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
	      e.way_in == WAY_TRACEPOINT && !strcmp(e.comm, "srv") && e.wait_ns == WAIT_UNKNOWN,
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
	struct count_key key = { .pid = 1234, .family = AF_INET, .lport = 80, .comm = "go-api",
				 .proto = PROTO_MPTCP };
	struct config cfg;
	struct fmt_state st;
	char buf[FMT_LINE_MAX], err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--print-proto", "--btf=/tmp/x.btf")) == 0 &&
	      cfg.print_proto && !strcmp(cfg.btf_path, "/tmp/x.btf"), "--print-proto --btf");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "--print-proto")) == 0 && cfg.count &&
	      cfg.print_proto, "-c --print-proto");
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "10.0.0.2", e.raddr);
	memcpy(key.laddr, e.laddr, 4);
	fmt_init(&st, false, false, 0);
	st.print_proto = true;
	buf[fmt_header(&st, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "PID     COMM         IP PROTO RADDR            RPORT LADDR            LPORT\n"),
	      "--print-proto header: '%s'", buf);
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  mptcp 10.0.0.2         54321 127.0.0.1        80   \n"),
	      "--print-proto MPTCP row: '%s'", buf);
	e.proto = PROTO_TCP;
	buf[fmt_event(&st, &e, buf, sizeof(buf))] = '\0';
	CHECK(!strcmp(buf, "1234    go-api       4  tcp   10.0.0.2         54321 127.0.0.1        80   \n"),
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

int main(void)
{
	test_good_options();
	test_bad_options();
	test_format();
	test_decode();
	test_escape();
	test_proto();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
