// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "args.h"
#include "service.h"
#include "version.h"

#define DEFAULT_RING_KB 1024
#define OPT_WAY 1000
#define OPT_RING_KB 1001
#define OPT_PRINT_PROTO 1002
#define OPT_BTF 1003
#define OPT_METRICS 1004
#define OPT_MAX_SERIES 1005
#define OPT_CLIENT_FAMILY 1006
#define OPT_NETNS 1007
#define OPT_CONTAINER 1008
#define OPT_METRICS_LABELS 1009
/* parse_opt()'s error for an argument that is not an option: as after
 * getopt's errors, args_parse() adds "Try --help". */
#define ERR_TRY_HELP (EXIT_USAGE + 1)

static const char doc[] =
"Trace TCP accepts: one line for every successful accept() of a TCP socket\n"
"(MPTCP included).\n"
"\v"
"EXAMPLES:\n"
"    tcpaccept             # trace all TCP accept()s\n"
"    tcpaccept -t          # include a timestamp in seconds\n"
"    tcpaccept -T          # include the time of day (HH:MM:SS)\n"
"    tcpaccept -p 181      # only trace PID 181\n"
"    tcpaccept -P 80,81    # only trace local ports 80 and 81\n"
"    tcpaccept -P 8000-8099,443   # ports 8000 to 8099, and 443\n"
"    tcpaccept -6          # only trace IPv6 sockets\n"
"    tcpaccept --client-family=4   # IPv4 clients, of dual-stack listeners too\n"
"    tcpaccept -v          # say which way in was chosen, and why\n"
"    tcpaccept -j          # JSON Lines, one object per accept\n"
"    tcpaccept -U -u 33    # show UIDs; only accepts by UID 33\n"
"    tcpaccept -C /sys/fs/cgroup/system.slice/nginx.service   # one cgroup\n"
"    tcpaccept --container=4f3c2b1a09e8   # one container (docker ps's ID)\n"
"    tcpaccept --netns=/run/netns/blue   # one network namespace (ip netns)\n"
"    tcpaccept --netns=/proc/4029/ns/net # the network namespace of PID 4029\n"
"    tcpaccept -c -i 5     # count accepts per process and port, every 5 s\n"
"    tcpaccept -q          # accept queue: backlog and wait since handshake\n"
"    tcpaccept -x          # failed connections only: drops, accept() errors\n"
"    tcpaccept -a -P 8080  # accepts and failures on port 8080, one stream\n"
"    tcpaccept -c -x -i 5  # accepts, drops and errors per listener, every 5 s\n"
"    tcpaccept --print-proto   # show whether each accept is TCP or MPTCP\n"
"    tcpaccept -S          # which container, unit or cgroup accepted\n"
"    tcpaccept -c -S       # count accepts per process, port and container\n"
"    tcpaccept --btf=/boot/vmlinux.btf   # a kernel without /sys/kernel/btf\n"
"    tcpaccept -d 10       # trace for 10 seconds\n"
"    tcpaccept --way=tracepoint   # force the syscall tracepoints\n"
"    tcpaccept --metrics=/var/lib/prometheus/node-exporter/tcpaccept.prom\n"
"                          # Prometheus metrics for node_exporter, every 15 s\n"
"    tcpaccept --metrics=/var/lib/prometheus/node-exporter/tcpaccept.prom \\\n"
"              --metrics-labels=container   # accepts per container too\n"
"    tcpaccept -c -q       # counts, then a wait histogram per port\n"
"    tcpaccept -j -o /var/log/tcpaccept.jsonl   # reopened on SIGHUP\n"
"\n";

/* --way's help, "Way into the kernel: auto (default), fexit, ...",
 * written from FOR_EACH_WAY by args_parse(). */
static char way_help[128];

static const struct argp_option options[] = {
	{ "timestamp", 't', NULL, 0, "Include a timestamp column, TIME(s): seconds since the first event", 0 },
	{ "time", 'T', NULL, 0, "Include a time-of-day column, TIME (HH:MM:SS)", 0 },
	{ "pid", 'p', "PID", 0, "Trace this process ID only", 0 },
	{ "port", 'P', "PORTS", 0, "Trace these local ports only: a comma-separated list of ports and FIRST-LAST ranges (80,443,8000-8100); repeated -P lists merge", 0 },
	{ "ipv4", '4', NULL, 0, "Trace IPv4 sockets only (an IPv4 client of a dual-stack listener is an IPv6 socket: see --client-family)", 0 },
	{ "ipv6", '6', NULL, 0, "Trace IPv6 sockets only (includes IPv4 clients of dual-stack listeners, ::ffff:a.b.c.d)", 0 },
	{ "client-family", OPT_CLIENT_FAMILY, "4|6", 0, "Trace clients of this IP version only, whatever the socket's: 4 includes IPv4 clients of dual-stack listeners (::ffff:a.b.c.d), 6 leaves them out", 0 },
	{ "json", 'j', NULL, 0, "Print JSON Lines: one object per accept (or per count row)", 0 },
	{ "print-uid", 'U', NULL, 0, "Include a UID column", 0 },
	{ "uid", 'u', "UID", 0, "Trace this user ID only", 0 },
	{ "cgroup", 'C', "PATH", 0, "Trace tasks in this cgroup v2 directory (and below) only", 0 },
	{ "container", OPT_CONTAINER, "ID", 0, "Trace tasks of these containers only (and of containers nested in them): IDs or unique prefixes of them, comma-separated; containers started later are matched too", 0 },
	{ "netns", OPT_NETNS, "INODE|PATH", 0, "Trace accepts in this network namespace only: its inode number, or a file that names it (/proc/PID/ns/net, /run/netns/NAME)", 0 },
	{ "count", 'c', NULL, 0, "Count accepts per PID, COMM, IP, PROTO, LADDR, LPORT in the kernel; print a table at exit", 0 },
	{ "interval", 'i', "SECS", 0, "With -c: print and reset the table every SECS seconds; with --metrics: write the file every SECS seconds (default 15)", 0 },
	{ "duration", 'd', "SECS", 0, "Trace for SECS seconds, then exit", 0 },
	{ "queue", 'q', NULL, 0, "Include BL (listener backlog LEN/MAX after the accept) and WAIT(ms) (handshake to accept); with -c: a WAIT histogram per port after the table", 0 },
	{ "wide", 'w', NULL, 0, "Address columns wide enough for any IPv6 address", 0 },
	{ "failed", 'x', NULL, 0, "Show failed passive connections instead of accepts: connection attempts the listener dropped (its queues full) and failed accept() calls, with a REASON column (accept_queue_full, syn_queue_full, other, cookie_ack_dropped; an errno: EMFILE); a drop's PID and COMM are the listener's owner's, an error has no RADDR and RPORT (-); with -c: DROPS and ERRORS columns", 0 },
	{ "all", 'a', NULL, 0, "Show accepts and failed connections alike (-x with the accepts)", 0 },
	{ "print-proto", OPT_PRINT_PROTO, NULL, 0, "Include a PROTO column: tcp or mptcp (what the accepted socket is)", 0 },
	{ "print-service", 'S', NULL, 0, "Include a SERVICE column, last: the container's short ID, else the systemd unit, else the cgroup path; with -c, count per service too", 0 },
	{ "btf", OPT_BTF, "PATH", 0, "Read the kernel's types from this BTF file, for kernels without /sys/kernel/btf/vmlinux", 0 },
	{ "way", OPT_WAY, "NAME", 0, way_help, 0 },
	/* --way's earlier name: still accepted for existing scripts, not shown. */
	{ "backend", 0, NULL, OPTION_ALIAS | OPTION_HIDDEN, NULL, 0 },
	{ "ring-kb", OPT_RING_KB, "KB", 0, "Ring buffer size in KiB, a power of two from 4 to 1048576 (default 1024)", 0 },
	{ "metrics", OPT_METRICS, "PATH", 0, "Write Prometheus metrics to PATH (atomically) every interval and at exit; alone, print no rows", 0 },
	{ "metrics-labels", OPT_METRICS_LABELS, "LABELS", 0, "Also label the accept (and failure) counters by container and/or unit: container, unit or container,unit (see the man page for the series they make)", 0 },
	{ "metrics-max-series", OPT_MAX_SERIES, "N", 0, "Most label sets per metric, 1-1048576 (default 4096); accepts beyond are counted, not lost silently", 0 },
	{ "output", 'o', "FILE", 0, "Append the output to FILE instead of stdout; reopen it on SIGHUP (log rotation)", 0 },
	{ "verbose", 'v', NULL, 0, "Say which way in was chosen and why; libbpf debug output", 0 },
	{ "version", 'V', NULL, 0, "Print the version and the libbpf version, then exit", 0 },
	{ "help", 'h', NULL, 0, "Show this help, then exit", 0 },
	{},
};

#define WAY_NAME(id, name) [id] = name,
static const char *const way_names[NR_WAYS] = {
	[WAY_AUTO] = "auto",
	FOR_EACH_WAY(WAY_NAME)
};
#undef WAY_NAME

const char *args_way_name(enum way way)
{
	return way_names[way];
}

/* "fexit, kprobe or tracepoint", after @prefix. */
static void way_list(char *buf, size_t size, const char *prefix)
{
	size_t len = (size_t)snprintf(buf, size, "%s", prefix);

	for (int w = WAY_AUTO + 1; w < NR_WAYS && len < size; w++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					w == WAY_AUTO + 1 ? "" : w == NR_WAYS - 1 ? " or " : ", ",
					way_names[w]);
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

/* "invalid port list '80,90-80': <why>" (@what: "port list"), @item (@len
 * bytes) quoted in @why. */
static int list_error(const char *what, const char *list, const char *why, const char *item,
		      size_t len)
{
	fprintf(stderr, "tcpaccept: invalid %s '%s': ", what, list);
	fprintf(stderr, why, (int)len, item);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* -P: comma-separated ports and FIRST-LAST ranges, into the port bitmap
 * (any number: the kernel side tests one bit per port). */
static int parse_ports(const char *list, struct config *cfg)
{
	static const char not_port[] = "'%.*s' is not a port 1-65535 or a range FIRST-LAST";
	const char *p = list;
	unsigned long first, last;
	char item[16], *dash;

	/* Added to the ports of any earlier -P: lists merge. */
	cfg->filter_ports = true;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (len == 0)
			return usage_error("invalid port list '%s': empty item", list);
		if (len >= sizeof(item))
			return list_error("port list", list, not_port, p, len);
		memcpy(item, p, len);
		item[len] = '\0';
		dash = strchr(item, '-');
		if (dash)
			*dash = '\0';
		if (parse_ulong(item, 1, 65535, &first) ||
		    parse_ulong(dash ? dash + 1 : item, 1, 65535, &last))
			return list_error("port list", list, not_port, p, len);
		if (first > last)
			return list_error("port list", list, "range '%.*s' ends before it starts", p, len);
		for (unsigned long port = first; port <= last; port++)
			cfg->port_bits[port >> 3] |= (uint8_t)(1u << (port & 7));
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* --metrics-labels: "container", "unit", comma-separated. */
static int parse_metrics_labels(const char *list, struct config *cfg)
{
	const char *p = list;
	size_t len;

	for (;; p += len + 1) {
		len = strcspn(p, ",");
		if (len == strlen("container") && !strncmp(p, "container", len))
			cfg->label_container = true;
		else if (len == strlen("unit") && !strncmp(p, "unit", len))
			cfg->label_unit = true;
		else
			return list_error("metrics labels", list, "'%.*s' is not container or unit", p, len);
		if (!p[len])
			return 0;
	}
}

/* --container: comma-separated ID prefixes, added to any earlier ones. */
static int parse_containers(const char *list, struct config *cfg)
{
	char item[CONTAINER_DIGITS + 2];
	const char *p = list;
	size_t len;
	int i;

	for (;; p += len + 1) {
		len = strcspn(p, ",");
		snprintf(item, sizeof(item), "%.*s", (int)(len < sizeof(item) ? len : sizeof(item) - 1), p);
		if (len >= sizeof(item) - 1 || !service_container_prefix_valid(item))
			return list_error("container ID list", list,
					  "'%.*s' is not 1-64 lowercase hex digits (a container's ID or its start)",
					  p, len);
		for (i = 0; i < cfg->ncontainers && strcmp(cfg->containers[i], item); i++)
			;
		if (i == cfg->ncontainers && cfg->ncontainers == CONTAINERS_MAX)
			return list_error("container ID list", list, "%.*smore than 8 containers", "", 0);
		if (i == cfg->ncontainers)
			memcpy(cfg->containers[cfg->ncontainers++], item, len + 1);
		if (!p[len])
			return 0;
	}
}

/* --netns: digits are an inode number; anything else a file. */
static int parse_netns(const char *arg, struct config *cfg)
{
	unsigned long v;

	cfg->netns = 0;
	cfg->netns_path = NULL;
	if (!*arg)
		return usage_error("%s", "invalid network namespace '': expected an inode number or a file");
	if (strspn(arg, "0123456789") != strlen(arg)) {
		cfg->netns_path = arg;
		return 0;
	}
	if (parse_ulong(arg, 1, UINT32_MAX, &v))
		return usage_error("invalid network namespace inode '%s': expected 1-4294967295", arg);
	cfg->netns = (uint32_t)v;
	return 0;
}

static int parse_way(const char *name, struct config *cfg)
{
	char msg[160];

	for (int w = WAY_AUTO; w < NR_WAYS; w++) {
		if (!strcmp(name, way_names[w])) {
			cfg->way = (enum way)w;
			return 0;
		}
	}
	way_list(msg, sizeof(msg), "unknown way in '%s': expected auto, ");
	return usage_error(msg, name);
}

/* The options given so far, one bit per entry of options[]. */
static uint64_t given;
_Static_assert(sizeof(options) / sizeof(options[0]) <= 64, "one bit of 'given' per option");

/* The options that take a list: given again, the lists merge. */
static bool is_list(int key)
{
	return key == 'P' || key == OPT_CONTAINER || key == OPT_METRICS_LABELS;
}

/* A repeat is never "the last one wins": lists merge; a flag given again
 * changes nothing (1: skip it); an option that takes one value is refused,
 * named as --help names it. 0: go on. */
static int check_repeat(int key)
{
	char name[64];
	size_t i = 0;

	while (options[i].name && options[i].key != key)
		i++;
	if (!options[i].name || is_list(key))
		return 0;	/* not an option (ARGP_KEY_*), or a list */
	if (!(given & (1ULL << i))) {
		given |= 1ULL << i;
		return 0;
	}
	if (!options[i].arg)
		return 1;
	if (key < 256)
		snprintf(name, sizeof(name), "-%c/--%s", key, options[i].name);
	else
		snprintf(name, sizeof(name), "--%s", options[i].name);
	return usage_error("%s given more than once: it takes one value", name);
}

/* The options together: what does not combine, and what follows. */
static int finish_config(struct config *cfg)
{
	if (cfg->family == AF_INET && cfg->client_family == AF_INET6)
		return usage_error("%s", "-4 and --client-family=6 select nothing: an IPv4 socket's client is IPv4");
	if (cfg->interval && !cfg->count && !cfg->metrics)
		return usage_error("%s", "-i/--interval needs -c/--count or --metrics");
	if (cfg->count && (cfg->timestamp || cfg->wallclock || cfg->print_uid))
		return usage_error("%s", "-c/--count does not combine with -t, -T or -U");
	if (cfg->all)
		cfg->failed = true;
	if (cfg->all && cfg->count)
		return usage_error("%s", "-a/--all is about rows: -c -x counts accepts, drops and errors");
	if ((cfg->label_container || cfg->label_unit) && !cfg->metrics)
		return usage_error("%s", "--metrics-labels needs --metrics");
	/* --metrics alone prints nothing; an option about rows asks for them. */
	cfg->rows = !cfg->count && (!cfg->metrics || cfg->json || cfg->output || cfg->timestamp ||
				    cfg->wallclock || cfg->print_uid || cfg->queue || cfg->wide ||
				    cfg->print_service || cfg->failed);
	if (cfg->metrics)
		cfg->metrics_interval = cfg->interval ? cfg->interval : DEFAULT_METRICS_INTERVAL;
	return 0;
}

/* The options that take a number, each range-checked into its field;
 * ARGP_ERR_UNKNOWN for any other key. */
static int parse_number(int key, const char *arg, struct config *cfg)
{
	unsigned long v;

	switch (key) {
	case 'p':
		if (parse_ulong(arg, 1, PID_MAX_LIMIT, &v))
			return usage_error("invalid PID '%s': expected 1-4194304", arg);
		cfg->pid = (pid_t)v;
		return 0;
	case 'u':
		/* (uid_t)-1 means "no user" to the kernel: not a valid filter. */
		if (parse_ulong(arg, 0, UINT32_MAX - 1, &v))
			return usage_error("invalid UID '%s': expected 0-4294967294", arg);
		cfg->filter_uid = true;
		cfg->uid = (uint32_t)v;
		return 0;
	case 'i':
		if (parse_ulong(arg, 1, 86400, &v))
			return usage_error("invalid interval '%s': expected 1-86400 seconds", arg);
		cfg->interval = (unsigned int)v;
		return 0;
	case 'd':
		if (parse_ulong(arg, 1, 31536000, &v))
			return usage_error("invalid duration '%s': expected 1-31536000 seconds", arg);
		cfg->duration = (unsigned int)v;
		return 0;
	case OPT_RING_KB:
		if (parse_ulong(arg, 4, 1048576, &v) || (v & (v - 1)))
			return usage_error("invalid ring buffer size '%s' KiB: expected a power of two from 4 to 1048576", arg);
		cfg->ring_kb = (unsigned int)v;
		return 0;
	case OPT_MAX_SERIES:
		if (parse_ulong(arg, 1, 1048576, &v))
			return usage_error("invalid series cap '%s': expected 1-1048576", arg);
		cfg->max_series = (unsigned int)v;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* The options that only turn something on. */
static const struct {
	int key;
	size_t field;		/* a bool in struct config */
} flags[] = {
	{ 't', offsetof(struct config, timestamp) },
	{ 'T', offsetof(struct config, wallclock) },
	{ 'j', offsetof(struct config, json) },
	{ 'U', offsetof(struct config, print_uid) },
	{ 'c', offsetof(struct config, count) },
	{ 'q', offsetof(struct config, queue) },
	{ 'x', offsetof(struct config, failed) },
	{ 'a', offsetof(struct config, all) },
	{ 'w', offsetof(struct config, wide) },
	{ OPT_PRINT_PROTO, offsetof(struct config, print_proto) },
	{ 'S', offsetof(struct config, print_service) },
	{ 'v', offsetof(struct config, verbose) },
};

/* The options that take a path, which must not be empty. */
static const struct {
	int key;
	size_t field;		/* a const char * in struct config */
	const char *empty;	/* the error for '' */
} paths[] = {
	{ 'C', offsetof(struct config, cgroup), "invalid cgroup '': expected a cgroup v2 directory" },
	{ OPT_BTF, offsetof(struct config, btf_path), "invalid BTF file '': expected a path" },
	{ OPT_METRICS, offsetof(struct config, metrics), "invalid metrics path '': expected a file name" },
	{ 'o', offsetof(struct config, output), "invalid output file '': expected a file name" },
};

/* A flag or a path option into its field; ARGP_ERR_UNKNOWN for any other
 * key. */
static int parse_flag_or_path(int key, const char *arg, struct config *cfg)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (flags[i].key == key) {
			*(bool *)((char *)cfg + flags[i].field) = true;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i].key != key)
			continue;
		if (!*arg)
			return usage_error("%s", paths[i].empty);
		*(const char **)((char *)cfg + paths[i].field) = arg;
		return 0;
	}
	return parse_number(key, arg, cfg);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct config *cfg = state->input;
	int repeat = check_repeat(key);

	if (repeat)
		return repeat == 1 ? 0 : repeat;
	switch (key) {
	case ARGP_KEY_INIT:
		/* argp would follow getopt's complaint with "Try --help or
		 * --usage", and there is no --usage: args_parse() says it. */
		state->err_stream = NULL;
		return 0;
	case ARGP_KEY_END:
		return finish_config(cfg);
	case ARGP_KEY_ARG:
		usage_error("unexpected argument '%s'", arg);
		return ERR_TRY_HELP;
	case 'P':
		return parse_ports(arg, cfg);
	case OPT_CONTAINER:
		return parse_containers(arg, cfg);
	case OPT_METRICS_LABELS:
		return parse_metrics_labels(arg, cfg);
	case OPT_NETNS:
		return parse_netns(arg, cfg);
	case '4':
	case '6':
		if (cfg->family && cfg->family != (key == '4' ? AF_INET : AF_INET6))
			return usage_error("%s", "-4 and -6 are exclusive");
		cfg->family = key == '4' ? AF_INET : AF_INET6;
		return 0;
	case OPT_CLIENT_FAMILY:
		if (strcmp(arg, "4") && strcmp(arg, "6"))
			return usage_error("invalid client family '%s': expected 4 or 6", arg);
		cfg->client_family = arg[0] == '4' ? AF_INET : AF_INET6;
		return 0;
	case OPT_WAY:
		return parse_way(arg, cfg);
	case 'V':
		printf("tcpaccept %s (libbpf %s)\n", TCPACCEPT_VERSION, TCPACCEPT_LIBBPF_VERSION);
		cfg->exit_now = true;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		cfg->exit_now = true;
		return 0;
	default:
		return parse_flag_or_path(key, arg, cfg);
	}
}

int args_parse(int argc, char **argv, struct config *cfg)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_opt,
		.doc = doc,
	};
	int err;

	way_list(way_help, sizeof(way_help), "Way into the kernel: auto (default), ");
	memset(cfg, 0, sizeof(*cfg));
	given = 0;
	cfg->way = WAY_AUTO;
	cfg->ring_kb = DEFAULT_RING_KB;
	cfg->max_series = DEFAULT_MAX_SERIES;
	/* ARGP_NO_EXIT: return errors to the caller (and to unit tests)
	 * instead of exiting; ARGP_NO_HELP: -h and -V are ours. */
	err = argp_parse(&argp, argc, argv, ARGP_NO_EXIT | ARGP_NO_HELP, NULL, cfg);
	/* EINVAL: getopt has said which option it did not know (or missed
	 * an argument for). argp's own "Try" line is off (err_stream): it
	 * offers --usage, which ARGP_NO_HELP removes. An error in a value
	 * says what is expected itself. */
	if (err == EINVAL || err == ERR_TRY_HELP)
		fprintf(stderr, "Try 'tcpaccept --help' for more information.\n");
	if (err)
		return EXIT_USAGE;
	return 0;
}
