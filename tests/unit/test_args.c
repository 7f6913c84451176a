// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: the option parser (args.c). */
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

/* Whether -P selects local port @port (true without -P). */
static bool port_selected(const struct config *cfg, unsigned int port)
{
	return !cfg->filter_ports ||
	       (port < 65536 && (cfg->port_bits[port >> 3] & (1u << (port & 7))));
}

TEST(good_options)
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

		snprintf(opt, sizeof(opt), "--way=%s", args_way_name(b));
		CHECK(parse(&cfg, err, sizeof(err), ARGS(opt)) == 0 && cfg.way == (enum way)b,
		      "%s", opt);
		snprintf(opt, sizeof(opt), "--backend=%s", args_way_name(b));
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

TEST(bad_options)
{
	static const struct {
		const char *args[4];
		const char *message;	/* what the first line must contain */
	} cases[] = {
		{ { "--bogus" }, "unrecognized option '--bogus'" },
		{ { "-y" }, "invalid option -- 'y'" },
		{ { "-a", "-c" }, "-a/--all is about rows" },
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

TEST(metrics_options)
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

static int count_ports(const struct config *cfg)
{
	int n = 0;

	for (unsigned int port = 0; port < 65536; port++)
		n += port_selected(cfg, port);
	return n;
}

TEST(port_ranges)
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
	/* -P lists merge: the ports of every -P are traced. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", "80-90", "-P", "443")) == 0 &&
	      count_ports(&cfg) == 12 && port_selected(&cfg, 80) && port_selected(&cfg, 443),
	      "-P 80-90 -P 443: %d ports", count_ports(&cfg));
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-P", "40400", "--port=40401", "-P", "40400")) == 0 &&
	      count_ports(&cfg) == 2 && port_selected(&cfg, 40400) && port_selected(&cfg, 40401),
	      "-P 40400 --port=40401 -P 40400: %d ports", count_ports(&cfg));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&cfg, err, sizeof(err), ARGS("-P", bad[i][0]));

		CHECK(rc == EXIT_USAGE && !strncmp(err, "tcpaccept: invalid port list '", 30) &&
		      strstr(err, bad[i][1]) && strchr(err, '\n') == err + strlen(err) - 1,
		      "-P '%s': exit %d, '%s' (want one line with '%s')", bad[i][0], rc, err, bad[i][1]);
	}
}


TEST(try_help)
{
	static const char *const named[][2] = {
		{ "--bogus", "tcpaccept: unrecognized option '--bogus'\n" },
		{ "-y", "tcpaccept: invalid option -- 'y'\n" },
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


TEST(client_family)
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

/* A repeated option never silently replaces an earlier one: -P lists merge,
 * a flag given again changes nothing, an option with one value is refused. */
TEST(repeated_options)
{
	static const char *const once[][3] = {
		{ "-p", "1", "-p/--pid" },
		{ "-u", "0", "-u/--uid" },
		{ "-C", "/sys/fs/cgroup", "-C/--cgroup" },
		{ "-i", "5", "-i/--interval" },
		{ "-d", "5", "-d/--duration" },
		{ "--way", "tracepoint", "--way" },
		{ "--backend", "tracepoint", "--way" },
		{ "--ring-kb", "4", "--ring-kb" },
		{ "--btf", "/x.btf", "--btf" },
		{ "--metrics", "/x.prom", "--metrics" },
		{ "--metrics-max-series", "9", "--metrics-max-series" },
		{ "-o", "/x.log", "-o/--output" },
		{ "--client-family", "4", "--client-family" },
		{ "--netns", "1", "--netns" },
	};
	static const char *const flags[] = {
		"-t", "-T", "-U", "-j", "-q", "-w", "-v", "-4", "-6", "--print-proto", "-c", "-S",
	};
	struct config cfg;
	char err[512], want[160];

	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		const char *v = once[i][1];
		/* Even the same value twice: a script that says it twice has
		 * two places that set it, and one of them is wrong. */
		int rc = parse(&cfg, err, sizeof(err), ARGS("--metrics=/m", "-c", once[i][0], v,
							    once[i][0], v));

		if (!strcmp(once[i][0], "--metrics"))
			rc = parse(&cfg, err, sizeof(err), ARGS("--metrics", v, "--metrics", v));
		snprintf(want, sizeof(want), "tcpaccept: %s given more than once: it takes one value\n",
			 once[i][2]);
		CHECK(rc == EXIT_USAGE && !strcmp(err, want), "%s %s twice: exit %d, '%s'",
		      once[i][0], v, rc, err);
	}
	/* --way and its earlier name are one option. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--way=auto", "--backend=tracepoint")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: --way given more than once: it takes one value\n"),
	      "--way then --backend: '%s'", err);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct config one;

		CHECK(parse(&one, err, sizeof(err), ARGS(flags[i])) == 0, "%s: %s", flags[i], err);
		CHECK(parse(&cfg, err, sizeof(err), ARGS(flags[i], flags[i])) == 0 &&
		      !memcmp(&one, &cfg, sizeof(cfg)), "%s twice is %s once: '%s'", flags[i],
		      flags[i], err);
	}
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-j", "--json", "-4", "--ipv4")) == 0 && cfg.json &&
	      cfg.family == AF_INET, "short and long flag together: '%s'", err);
	/* Still exclusive, whichever comes twice. */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-4", "-4", "-6")) == EXIT_USAGE &&
	      strstr(err, "-4 and -6 are exclusive"), "-4 -4 -6: '%s'", err);
}

TEST(failed_options)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("-x")) == 0 && cfg.failed && !cfg.all && cfg.rows,
	      "-x: failures only, rows");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--all")) == 0 && cfg.failed && cfg.all && cfg.rows,
	      "-a: accepts and failures");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("-c", "--failed")) == 0 && cfg.failed && cfg.count &&
	      !cfg.rows, "-c -x: counts");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m", "-x")) == 0 && cfg.rows,
	      "--metrics -x: rows of failures too");
}

TEST(netns_args)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=4026531833")) == 0 &&
	      cfg.netns == 4026531833U && !cfg.netns_path, "an inode number");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns", "/run/netns/blue")) == 0 &&
	      !cfg.netns && !strcmp(cfg.netns_path, "/run/netns/blue"), "a file");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=4294967295")) == 0 &&
	      cfg.netns == 4294967295U, "the largest inode number");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=4294967296")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: invalid network namespace inode '4294967296': expected 1-4294967295\n"),
	      "too large: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=0")) == EXIT_USAGE, "0");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: invalid network namespace '': expected an inode number or a file\n"),
	      "empty: %s", err);
	/* Not all digits: a file (relative, as a shell's ./123 would be). */
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--netns=123x")) == 0 &&
	      !strcmp(cfg.netns_path, "123x") && !cfg.netns, "a name with digits");
}

TEST(container_args)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=4f3c2b1a09e8")) == 0 &&
	      cfg.ncontainers == 1 && !strcmp(cfg.containers[0], "4f3c2b1a09e8"), "one prefix");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=ab,cd", "--container", "ab,ef")) == 0 &&
	      cfg.ncontainers == 3 && !strcmp(cfg.containers[0], "ab") &&
	      !strcmp(cfg.containers[1], "cd") && !strcmp(cfg.containers[2], "ef"),
	      "lists merge, without repeats");
	CHECK(parse(&cfg, err, sizeof(err),
		    ARGS("--container=4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2")) == 0 &&
	      strlen(cfg.containers[0]) == 64, "a full ID");
	CHECK(parse(&cfg, err, sizeof(err),
		    ARGS("--container=4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c21")) == EXIT_USAGE,
	      "65 digits");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=4F3C")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: invalid container ID list '4F3C': '4F3C' is not 1-64 lowercase hex digits (a container's ID or its start)\n"),
	      "upper case: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=nginx")) == EXIT_USAGE, "a name");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=")) == EXIT_USAGE, "empty");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=a,")) == EXIT_USAGE, "empty item");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=1,2,3,4,5,6,7,8")) == 0 &&
	      cfg.ncontainers == 8, "eight");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--container=1,2,3,4,5,6,7,8", "--container=9")) ==
	      EXIT_USAGE && !strcmp(err, "tcpaccept: invalid container ID list '9': more than 8 containers\n"),
	      "nine: %s", err);
}

TEST(metrics_labels_args)
{
	struct config cfg;
	char err[512];

	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m.prom", "--metrics-labels=container")) == 0 &&
	      cfg.label_container && !cfg.label_unit, "container");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m.prom", "--metrics-labels=unit,container")) == 0 &&
	      cfg.label_container && cfg.label_unit, "both");
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics-labels=unit")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: --metrics-labels needs --metrics\n"), "alone: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m.prom", "--metrics-labels=pod")) == EXIT_USAGE &&
	      !strcmp(err, "tcpaccept: invalid metrics labels 'pod': 'pod' is not container or unit\n"),
	      "unknown: %s", err);
	CHECK(parse(&cfg, err, sizeof(err), ARGS("--metrics=/tmp/m.prom", "--metrics-labels=")) == EXIT_USAGE,
	      "empty");
}
