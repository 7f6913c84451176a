// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: the metrics exposition, histograms and the atomic file write (metrics.c). */
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

static char *format_snapshot(const struct metrics_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	metrics_format(f, s);
	fclose(f);
	return text;
}


TEST(metrics_format)
{
	struct metric_series totals[2] = {};
	struct listen_series l = {};
	struct metrics_snapshot s = {
		.totals = totals, .ntotals = 2, .listeners = &l, .nlisteners = 1,
		.lost = 7, .unwritten = 11, .totals_evicted = 12, .listen_evicted = 13, .count_overflow = 8,
		.totals_overflow = 9, .listen_overflow = 10, .outside_pidns = 14,
		.max_series = 4096, .version = "0.1.0", .libbpf = "1.1", .way = "fexit",
		.now = 1700000000.5, .start = 1699999999.25,
	};
	char esc[64], *text;

	totals[0].key.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", totals[0].key.laddr);
	totals[0].key.lport = 8080;
	memcpy(totals[0].key.comm, "a\"b\\c\nd\x1b", 9);
	totals[0].counts.events[EVENT_ACCEPT] = 42;
	totals[1].key.family = AF_INET6;
	inet_pton(AF_INET6, "::1", totals[1].key.laddr);
	totals[1].key.lport = 443;
	memcpy(totals[1].key.comm, "nginx", 5);
	totals[1].key.proto = PROTO_MPTCP;
	totals[1].counts.events[EVENT_ACCEPT] = 3;
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
	CHECK(strstr(text, "tcpaccept_unwritten_rows_total 11\n"), "unwritten rows");
	CHECK(strstr(text, "tcpaccept_series_evicted_total{metric=\"tcpaccept_accepts_total\"} 12\n") &&
	      strstr(text, "tcpaccept_series_evicted_total{metric=\"tcpaccept_accept_wait_seconds\"} 13\n"),
	      "evicted series");
	CHECK(strstr(text, "tcpaccept_lost_events_total 7\n") && strstr(text, "tcpaccept_count_overflow_total 8\n") &&
	      strstr(text, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accepts_total\"} 9\n") &&
	      strstr(text, "tcpaccept_series_overflow_total{metric=\"tcpaccept_accept_wait_seconds\"} 10\n") &&
	      strstr(text, "tcpaccept_outside_pid_namespace_total 14\n"),
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
}


TEST(metrics_hist_print)
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
	metrics_hist_print(f, &l);
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
	metrics_hist_json(f, &l, 1.5);
	fclose(f);
	CHECK(!strcmp(text, "{\"ts\":1.500000,\"ip\":4,\"laddr\":\"127.0.0.1\",\"lport\":8080,\"unit\":\"usecs\","
			    "\"count\":5,\"sum_us\":10.000,\"unknown\":2,\"buckets\":[{\"low\":0,\"high\":1,\"count\":1},"
			    "{\"low\":2,\"high\":3,\"count\":0},{\"low\":4,\"high\":7,\"count\":4}]}\n"),
	      "JSON histogram: %s", text);
	free(text);
	before.st.slots[2] = 3;
	before.st.wait_count = 3;
	before.st.wait_unknown = 2;
	metrics_stats_sub(&l.st, &before.st);
	CHECK(l.st.slots[0] == 1 && l.st.slots[2] == 1 && l.st.wait_count == 2 && l.st.wait_unknown == 0,
	      "interval difference");
	/* The series was given back and made again: it counts less than the
	 * last table showed, and all of it is new. */
	before.st.wait_count = 9;
	metrics_stats_sub(&l.st, &before.st);
	CHECK(l.st.slots[0] == 1 && l.st.slots[2] == 1 && l.st.wait_count == 2,
	      "a series made anew is not subtracted from");
}


TEST(metrics_write_file)
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


/* --metrics-labels: the container and unit labels, "" where a series has
 * none; series of one label set (cgroups of one container) merged. */
TEST(metrics_labels)
{
	struct metric_series totals[4] = {};
	struct metrics_snapshot s = {
		.totals = totals, .max_series = 4096, .version = "0.1.0", .libbpf = "1.1",
		.way = "tracepoint", .label_container = true, .label_unit = true,
	};
	char *text;
	size_t n;

	for (int i = 0; i < 4; i++) {
		totals[i].key.family = AF_INET;
		totals[i].key.lport = 8080;
		totals[i].key.cgroup = 100 + (__u64)i;
		inet_pton(AF_INET, "127.0.0.1", totals[i].key.laddr);
		memcpy(totals[i].key.comm, "nginx", 6);
		totals[i].counts.events[EVENT_ACCEPT] = 1ULL << i;
	}
	/* A container's own cgroup and its sub-cgroup; a unit; nothing. */
	totals[0].container = strdup("4f3c");
	totals[2].container = strdup("4f3c");
	totals[1].unit = strdup("my\"app.service");
	n = metrics_merge_series(totals, 4);
	CHECK(n == 3, "3 label sets: %zu", n);
	s.ntotals = n;
	text = format_snapshot(&s);
	CHECK(strstr(text, "tcpaccept_accepts_total{comm=\"nginx\",container=\"4f3c\",ip=\"4\",laddr=\"127.0.0.1\","
			   "lport=\"8080\",proto=\"tcp\",unit=\"\"} 5\n"), "merged: %s", text);
	CHECK(strstr(text, "{comm=\"nginx\",container=\"\",ip=\"4\",laddr=\"127.0.0.1\",lport=\"8080\","
			   "proto=\"tcp\",unit=\"my\\\"app.service\"} 2\n"), "a unit, escaped");
	CHECK(strstr(text, "{comm=\"nginx\",container=\"\",ip=\"4\",laddr=\"127.0.0.1\",lport=\"8080\","
			   "proto=\"tcp\",unit=\"\"} 8\n"), "neither");
	free(text);
	s.label_unit = false;
	text = format_snapshot(&s);
	CHECK(strstr(text, "{comm=\"nginx\",container=\"4f3c\",ip=\"4\",laddr=\"127.0.0.1\",lport=\"8080\","
			   "proto=\"tcp\"} 5\n"), "container only: %s", text);
	free(text);
	for (size_t i = 0; i < n; i++) {
		free(totals[i].container);
		free(totals[i].unit);
	}
}
