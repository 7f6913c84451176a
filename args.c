// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "args.h"
#include "version.h"

#define DEFAULT_RING_KB 2048
#define OPT_BACKEND 1000
#define OPT_RING_KB 1001

static const char doc[] =
"Trace TCP accepts: one line for every successful accept() of a TCP socket.\n"
"\v"
"EXAMPLES:\n"
"    tcpaccept             # trace all TCP accept()s\n"
"    tcpaccept -t          # include a timestamp in seconds\n"
"    tcpaccept -T          # include the time of day (HH:MM:SS)\n"
"    tcpaccept -p 181      # only trace PID 181\n"
"    tcpaccept -P 80,81    # only trace local ports 80 and 81\n"
"    tcpaccept -6          # only trace IPv6 accepts\n"
"    tcpaccept -v          # say which way in was chosen, and why\n"
"    tcpaccept --backend=tracepoint   # force the syscall tracepoints\n"
"\n";

static const struct argp_option options[] = {
	{ "timestamp", 't', NULL, 0, "Include a timestamp column, TIME(s): seconds since the first event", 0 },
	{ "time", 'T', NULL, 0, "Include a time-of-day column, TIME (HH:MM:SS)", 0 },
	{ "pid", 'p', "PID", 0, "Trace this process ID only", 0 },
	{ "port", 'P', "PORTS", 0, "Comma-separated list of local ports to trace (at most 64)", 0 },
	{ "ipv4", '4', NULL, 0, "Trace IPv4 only", 0 },
	{ "ipv6", '6', NULL, 0, "Trace IPv6 only (includes IPv4-mapped clients of dual-stack listeners)", 0 },
	{ "backend", OPT_BACKEND, "NAME", 0, "Way into the kernel: auto (default), fexit, kprobe or tracepoint", 0 },
	{ "ring-kb", OPT_RING_KB, "KB", 0, "Ring buffer size in KiB, a power of two from 4 to 1048576 (default 2048)", 0 },
	{ "verbose", 'v', NULL, 0, "Say which way in was chosen and why; libbpf debug output", 0 },
	{ "version", 'V', NULL, 0, "Print the version and the libbpf version, then exit", 0 },
	{ "help", 'h', NULL, 0, "Show this help, then exit", 0 },
	{},
};

static const char *const backend_names[] = {
	[BACKEND_AUTO] = "auto",
	[BACKEND_FEXIT] = "fexit",
	[BACKEND_KPROBE] = "kprobe",
	[BACKEND_TRACEPOINT] = "tracepoint",
};

const char *backend_name(enum backend backend)
{
	return backend_names[backend];
}

static int usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, "tcpaccept: ");
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* Parses a whole decimal number in [min, max]; no sign, no junk, no overflow. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_ports(const char *list, struct config *cfg)
{
	const char *p = list;
	unsigned long port;
	char item[16];

	cfg->nports = 0;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (len == 0)
			return usage_error("invalid port list '%s': empty item", list);
		if (len >= sizeof(item))
			return usage_error("invalid port list '%s': expected ports 1-65535", list);
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_ulong(item, 1, 65535, &port))
			return usage_error("invalid port list '%s': expected ports 1-65535", list);
		if (cfg->nports == MAX_PORTS)
			return usage_error("invalid port list '%s': at most 64 ports", list);
		cfg->ports[cfg->nports++] = (uint16_t)port;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

static int parse_backend(const char *name, struct config *cfg)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
		if (!strcmp(name, backend_names[i])) {
			cfg->backend = (enum backend)i;
			return 0;
		}
	}
	return usage_error("unknown backend '%s': expected auto, fexit, kprobe or tracepoint", name);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct config *cfg = state->input;
	unsigned long v;

	switch (key) {
	case ARGP_KEY_INIT:
		/* argp would follow getopt's own one-line complaint with a
		 * "Try --help" line: keep usage errors to one line. */
		state->err_stream = NULL;
		return 0;
	case 't':
		cfg->timestamp = true;
		return 0;
	case 'T':
		cfg->wallclock = true;
		return 0;
	case 'p':
		if (parse_ulong(arg, 1, PID_MAX_LIMIT, &v))
			return usage_error("invalid PID '%s': expected 1-4194304", arg);
		cfg->pid = (pid_t)v;
		return 0;
	case 'P':
		return parse_ports(arg, cfg);
	case '4':
	case '6':
		if (cfg->family)
			return usage_error("%s", "-4 and -6 are exclusive");
		cfg->family = key == '4' ? AF_INET : AF_INET6;
		return 0;
	case OPT_BACKEND:
		return parse_backend(arg, cfg);
	case OPT_RING_KB:
		if (parse_ulong(arg, 4, 1048576, &v) || (v & (v - 1)))
			return usage_error("invalid ring buffer size '%s' KiB: expected a power of two from 4 to 1048576", arg);
		cfg->ring_kb = (unsigned int)v;
		return 0;
	case 'v':
		cfg->verbose = true;
		return 0;
	case 'V':
		printf("tcpaccept %s (libbpf %s)\n", TCPACCEPT_VERSION, TCPACCEPT_LIBBPF_VERSION);
		cfg->exit_now = true;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		cfg->exit_now = true;
		return 0;
	case ARGP_KEY_ARG:
		return usage_error("unexpected argument '%s'", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_opt,
		.doc = doc,
	};
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = BACKEND_AUTO;
	cfg->ring_kb = DEFAULT_RING_KB;
	/* ARGP_NO_EXIT: return errors to the caller (and to unit tests)
	 * instead of exiting; ARGP_NO_HELP: -h and -V are ours. */
	err = argp_parse(&argp, argc, argv, ARGP_NO_EXIT | ARGP_NO_HELP, NULL, cfg);
	if (err)
		return EXIT_USAGE;
	return 0;
}
