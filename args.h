/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Command-line parsing for tcpaccept: pure code, no BPF, unit-tested. */
#ifndef TCPACCEPT_ARGS_H
#define TCPACCEPT_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "tcpaccept.h"

#define EXIT_USAGE 64	/* sysexits.h EX_USAGE */
#define DEFAULT_METRICS_INTERVAL 15
#define PID_MAX_LIMIT 4194304	/* the kernel's upper bound for pid_max */

struct config {
	pid_t pid;			/* 0: any process */
	bool filter_ports;		/* -P given: port_bits says which */
	uint8_t port_bits[PORT_BITS_BYTES];	/* -P: local ports to trace */
	int family;			/* -4/-6: 0, AF_INET or AF_INET6 (the socket's) */
	int client_family;		/* --client-family: 0, AF_INET or AF_INET6 */
	bool timestamp;			/* -t: TIME(s) column */
	bool wallclock;			/* -T: TIME column */
	bool verbose;
	bool json;			/* -j: JSON Lines */
	bool print_uid;			/* -U: UID column */
	bool filter_uid;		/* -u */
	uint32_t uid;
	const char *cgroup;		/* -C: cgroup v2 directory */
	const char *netns_path;		/* --netns=PATH: a network namespace file */
	/* --container: ID prefixes, lowercase hex, NUL-terminated */
	char containers[CONTAINERS_MAX][CONTAINER_DIGITS + 1];
	int ncontainers;
	uint32_t netns;			/* --netns=INODE (0: none, or a PATH's) */
	bool count;			/* -c: count in the kernel, print tables */
	unsigned int interval;		/* -i: seconds between tables (0: at exit) */
	unsigned int duration;		/* -d: seconds to trace (0: until a signal) */
	bool queue;			/* -q: BL and WAIT(ms) columns */
	bool wide;			/* -w: columns wide enough for IPv6 */
	bool print_proto;		/* --print-proto: PROTO column (tcp/mptcp) */
	bool failed;			/* -x (or -a): drops and accept() errors */
	bool all;			/* -a: accepts and failures alike */
	bool print_service;		/* -S: SERVICE column (container, unit or cgroup) */
	const char *btf_path;		/* --btf: kernel types from this file */
	enum way way;			/* --way: WAY_AUTO, or the one to use */
	unsigned int ring_kb;		/* ring buffer size in KiB */
	bool exit_now;			/* -h or -V was handled: exit 0 */
	const char *metrics;		/* --metrics: Prometheus text file */
	unsigned int max_series;	/* --metrics-max-series */
	bool label_container;		/* --metrics-labels=container */
	bool label_unit;		/* --metrics-labels=unit */
	const char *output;		/* -o: rows and tables to this file */
	bool rows;			/* one row per accept (not -c; not --metrics alone) */
	unsigned int metrics_interval;	/* seconds between metrics writes */
};

/* Fills @cfg from the command line. Returns 0 to go on tracing (or to exit 0
 * if cfg->exit_now), or EXIT_USAGE after printing one line to stderr. */
int args_parse(int argc, char **argv, struct config *cfg);

/* The way's name on the command line, in -v and in --metrics ("auto" for
 * WAY_AUTO). */
const char *args_way_name(enum way way);

#endif /* TCPACCEPT_ARGS_H */
