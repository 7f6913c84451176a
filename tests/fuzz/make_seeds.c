// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Writes the fuzzer's seed corpus into the directory given: a few inputs
 * laid out as fuzz_input.h says, from the events tcpaccept really sees
 * (IPv4, IPv6, IPv4-mapped, a hostile task name, long runs of -t).
 * Generated at build time, so no binary file is kept in the repository.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "fuzz_input.h"

struct seed {
	unsigned char bytes[FUZZ_HEAD_LEN + FUZZ_MAX_EVENTS * sizeof(struct event)];
	size_t len;
};

static void head(struct seed *s, unsigned char flags, unsigned char esc_size,
		 unsigned char esc_len, int64_t off)
{
	uint64_t raw = (uint64_t)off;

	s->bytes[0] = flags;
	s->bytes[1] = esc_size;
	s->bytes[2] = esc_len;
	for (int i = 0; i < 8; i++)
		s->bytes[3 + i] = (unsigned char)(raw >> (8 * i));
	s->bytes[11] = flags & FUZZ_JSON ? FUZZ2_IDENTITY : 0;
	s->len = FUZZ_HEAD_LEN;
}

/* The last event's names, as fuzz_format.c makes them from the bytes where
 * the pointers lie (fuzz_input.h): a cgroup of up to 16 bytes (one over 8
 * names a container too: the task name), a unit of up to 8. */
static void names(struct seed *s, const char *cgroup, const char *unit)
{
	unsigned char *e = s->bytes + s->len - sizeof(struct event);

	memcpy(e + offsetof(struct event, names.cgroup), cgroup, strnlen(cgroup, 16));
	memcpy(e + offsetof(struct event, names.container), unit, strnlen(unit, 8));
}

static void add(struct seed *s, uint64_t ts_ns, int family, const char *raddr, uint16_t rport,
		const char *laddr, uint16_t lport, uint32_t pid, const char *comm, size_t comm_len)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = ts_ns;
	e.pid = e.tid = pid;
	e.family = (uint16_t)family;
	e.rport = rport;
	e.lport = lport;
	e.uid = pid % 3 ? 0 : 65534;
	e.netns = 4026531840u;
	e.backlog_len = pid % 7;
	e.backlog_max = 4096;
	e.wait_ns = pid % 2 ? WAIT_UNKNOWN : 1234567;
	if (inet_pton(family, raddr, e.raddr) != 1 || inet_pton(family, laddr, e.laddr) != 1) {
		fprintf(stderr, "make_seeds: bad address %s or %s\n", raddr, laddr);
		exit(1);
	}
	memcpy(e.comm, comm, comm_len > sizeof(e.comm) ? sizeof(e.comm) : comm_len);
	memcpy(s->bytes + s->len, &e, sizeof(e));
	s->len += sizeof(e);
}

/* The last event added becomes a drop or an error (-x). */
static void set_failure(struct seed *s, unsigned char kind, unsigned short code,
			unsigned char stage, unsigned char owner_known)
{
	unsigned char *at = s->bytes + s->len - sizeof(struct event);
	struct event e;

	memcpy(&e, at, sizeof(e));
	e.kind = kind;
	e.code = code;
	e.stage = stage;
	e.owner_known = owner_known;
	memcpy(at, &e, sizeof(e));
}

static void save(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->bytes, 1, s->len, f) != s->len || fclose(f)) {
		fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* -x's rows: an accept, a drop with and without its owner, an error; as
 * columns with -q and as JSON; then with -S and -j's identity. */
static void failed_seeds(const char *dir, int64_t off, uint64_t t0)
{
	struct seed s;

	for (int json = 0; json < 2; json++) {
		head(&s, FUZZ_COUNTS | (json ? FUZZ_JSON : FUZZ_QUEUE), 64, 16 | FUZZ_FAILED, off);
		add(&s, t0, AF_INET, "127.0.0.1", 40000, "127.0.0.1", 8080, 300, "httpd", 5);
		add(&s, t0 + 1, AF_INET, "127.0.0.1", 40001, "127.0.0.1", 8080, 300, "httpd", 5);
		set_failure(&s, EVENT_DROP, DROP_ACCEPT_QUEUE_FULL, STAGE_ACK, 1);
		add(&s, t0 + 2, AF_INET6, "::ffff:127.0.0.1", 40002, "::", 8080, 0, "", 0);
		set_failure(&s, EVENT_DROP, DROP_SYN_QUEUE_FULL, STAGE_SYN, 0);
		add(&s, t0 + 3, AF_INET, "0.0.0.0", 0, "127.0.0.1", 8080, 300, "httpd", 5);
		set_failure(&s, EVENT_ERROR, EMFILE, 0, 0);
		save(dir, json ? "failed-json" : "failed", &s);
	}

	/* -x -S, -x -j: a drop named by its listener's cgroup, no namespaces
	 * (no task), beside an error row of the same service. */
	for (int json = 0; json < 2; json++) {
		head(&s, FUZZ_COUNTS | (json ? FUZZ_JSON : 0), 64, 16 | FUZZ_FAILED, off);
		s.bytes[11] = FUZZ2_SERVICE;
		add(&s, t0, AF_INET, "127.0.0.1", 40001, "127.0.0.1", 8080, 300, "httpd", 5);
		set_failure(&s, EVENT_DROP, DROP_ACCEPT_QUEUE_FULL, STAGE_SYN, 1);
		names(&s, "/web.service", "");
		add(&s, t0 + 1, AF_INET, "0.0.0.0", 0, "127.0.0.1", 8080, 300, "httpd", 5);
		set_failure(&s, EVENT_ERROR, EMFILE, 0, 0);
		names(&s, "/web.service", "");
		save(dir, json ? "failed-service-json" : "failed-service", &s);
	}
}

int main(int argc, char **argv)
{
	/* 2025-11-26 00:00:00 UTC minus one hour of uptime. */
	const int64_t off = 1764115200LL * 1000000000 - 3600LL * 1000000000;
	const uint64_t t0 = 3600ULL * 1000000000;
	struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 64;
	}

	head(&s, 0, 64, 16, off);
	add(&s, t0, AF_INET, "127.0.0.1", 47858, "127.0.0.1", 37227, 14046, "nginx", 6);
	save(argv[1], "ipv4", &s);

	head(&s, FUZZ_WALLCLOCK | FUZZ_TIMESTAMP | FUZZ_UID, 9, 16, off);
	add(&s, t0, AF_INET6, "::1", 58660, "::1", 46761, 14049, "sshd", 5);
	add(&s, t0 + 1500000000, AF_INET6, "::ffff:127.0.0.1", 40674, "::ffff:127.0.0.1", 33029,
	    14052, "redis-server", 13);
	add(&s, t0 + 2000000000, AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "fe80::1234:5678:9abc:def0", 1, 4194304, "0123456789abcdef", 16);
	save(argv[1], "ipv6-times", &s);

	/* A name that would clear the screen and fake a second row. */
	head(&s, FUZZ_TIMESTAMP | FUZZ_QUEUE | FUZZ_COUNTS, 255, 15, off);
	add(&s, t0, AF_INET, "10.0.0.1", 1, "10.0.0.2", 65535, 4294967295u,
	    "\x1b[2J\n fake 1.2.3.4", 16);
	add(&s, t0 + 1000, AF_INET, "10.0.0.1", 2, "10.0.0.2", 80, 1, "\\\x7f\xff\t\r", 6);
	save(argv[1], "hostile-comm", &s);

	/* The same as JSON Lines: '"' and '\' must be escaped too. */
	head(&s, FUZZ_JSON | FUZZ_QUEUE | FUZZ_COUNTS, 40, 16, off);
	add(&s, t0, AF_INET6, "::ffff:10.1.2.3", 443, "::ffff:10.1.2.4", 8443, 77,
	    "a\"b\\c\x1b\x00", 7);
	add(&s, t0 + 5, AF_INET, "10.1.2.3", 444, "10.1.2.4", 8443, 78, "\"},{\"x\":1", 10);
	names(&s, "/a\"b\\c.slice\n", "x.scope");
	save(argv[1], "json", &s);

	/* -w: IPv6 addresses up to their longest. */
	head(&s, FUZZ_WIDE | FUZZ_UID | FUZZ_COUNTS, 5, 3, off);
	add(&s, t0, AF_INET6, "1111:2222:3333:4444:5555:6666:7777:8888", 1,
	    "::ffff:255.255.255.255", 2, 99, "java", 5);
	save(argv[1], "wide", &s);

	/* -t after hours of tracing: a wide TIME(s) column. */
	head(&s, FUZZ_TIMESTAMP | FUZZ_WALLCLOCK, 20, 16, off);
	add(&s, t0, AF_INET, "192.168.1.1", 22, "192.168.1.2", 2222, 100, "sshd", 5);
	add(&s, t0 + 12345678900000ULL, AF_INET, "192.168.1.1", 23, "192.168.1.2", 2222, 100,
	    "sshd", 5);
	save(argv[1], "long-run", &s);

	/* --print-proto: a TCP and an MPTCP accept, as columns and -c rows. */
	head(&s, FUZZ_PROTO | FUZZ_COUNTS | FUZZ_QUEUE, 64, 16, off);
	add(&s, t0, AF_INET, "127.0.0.1", 40000, "127.0.0.1", 8080, 200, "mptcp-srv", 9);
	s.bytes[s.len - sizeof(struct event) + offsetof(struct event, proto)] = PROTO_MPTCP;
	add(&s, t0 + 7, AF_INET6, "::1", 40001, "::1", 8080, 200, "mptcp-srv", 9);
	save(argv[1], "proto", &s);

	failed_seeds(argv[1], off, t0);
	/* -S: a service named by a path with a space, one by nothing. */
	head(&s, FUZZ_COUNTS | FUZZ_QUEUE, 64, 16, off);
	s.bytes[11] = FUZZ2_SERVICE;
	add(&s, t0, AF_INET, "127.0.0.1", 40000, "127.0.0.1", 8080, 201, "nginx", 6);
	names(&s, "/a b.service", "");
	memset(s.bytes + s.len - sizeof(struct event) + offsetof(struct event, names.service), 1, 8);
	add(&s, t0 + 7, AF_INET6, "::1", 40001, "::1", 8080, 201, "nginx", 6);
	save(argv[1], "service", &s);
	return 0;
}
