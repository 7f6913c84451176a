// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * flood: a loopback accept() flood for benchmarking accept tracers.
 *
 * One listener thread (named "flood-srv") accepts and closes; client threads
 * ("flood-cli") connect and close, for a fixed time. Everything stays on
 * 127.0.0.1 or ::1 and stops by itself.
 *
 *   rst       clients set SO_LINGER {1, 0} and close at once: a RST, no
 *             TIME_WAIT; the accept is usually of an already reset socket
 *   graceful  clients read() until the server's FIN (0), then close
 *
 * At most MAX_PENDING connections are made and not yet accepted: a client
 * takes a credit before connect() and the server returns it after accept().
 * So the accept queue never overflows (a dropped SYN would stall its client
 * for a second) and a slower accept (a tracer) shows as a lower rate.
 * Measured untraced on the 2-CPU bench machine, rst mode: 1 client thread
 * ~60-80k accepts/s, 2-4 threads ~80-130k/s (4 the steadiest), 8 no better.
 *
 * With -o FILE every connection that a client saw established is written to
 * FILE as "RADDR RPORT LADDR LPORT" from the server's point of view: RADDR
 * and RPORT are the client's getsockname(), LADDR and LPORT its
 * getpeername(). The same 4-tuple can occur many times (ports are reused).
 *
 * stdout, one line of key=value pairs:
 *   mode= ip= seconds= clients= pid= comm= port= accepts= rate= connects=
 *   connect_errors= tail_s= srv_cpu_us= cpu_us=
 * rate is the accepts made within the SECONDS window over its length;
 * accepts also counts those made while the clients finish (tail_s).
 * srv_cpu_us and cpu_us: CPU time (user + system) per accept within the
 * window, of the server thread and of the whole flood process.
 * Exit codes: 0 ok, 1 a syscall failed, 64 usage error.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -static -pthread -o flood flood.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_COMM "flood-srv"
#define CLIENT_COMM "flood-cli"
#define MAX_CLIENTS 256
/* Connections that clients may have made and the server not yet accepted.
 * Well under the listen backlog: a full accept queue drops SYNs, and each
 * dropped SYN stalls its client for the 1 s retransmission timeout, which
 * makes the rate jump from run to run. */
#define MAX_PENDING 1024

enum mode { MODE_RST, MODE_GRACEFUL };

struct tuple {
	uint8_t caddr[16];	/* client = remote end for the server */
	uint8_t saddr[16];
	uint16_t cport;
	uint16_t sport;
};

struct client {
	pthread_t thread;
	struct tuple *truth;
	size_t n, cap;
	uint64_t connects;
	uint64_t errors;
	int failed;		/* errno of a fatal failure */
	const char *failed_call;
};

static struct {
	enum mode mode;
	int family;
	double seconds;
	int nclients;
	const char *truth_path;
	int pin;			/* -p: server on CPU 0, clients on CPU 1 */
	struct sockaddr_storage addr;	/* the listener */
	socklen_t addrlen;
} opt = { .mode = MODE_RST, .family = AF_INET, .seconds = 5.0, .nclients = 4 };

static atomic_int stop;		/* clients: stop connecting */
static atomic_int server_stop;	/* server: the clients are all done */
static int listen_fd = -1;
static _Atomic uint64_t accepts;
static sem_t credits;		/* MAX_PENDING - (connects - accepts) */
static int server_errno;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_seconds(pthread_t thread)
{
	clockid_t clock;

	if (pthread_getcpuclockid(thread, &clock))
		return 0;
	return cpu_seconds(clock);
}

static void die(const char *what)
{
	fprintf(stderr, "flood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	if (!opt.pin)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *server_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, SERVER_COMM, 0, 0, 0);
	pin_to(0);
	/* Accepts until main shuts the listener down, after every client is
	 * done: a graceful client waits for the close of its accepted socket. */
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			atomic_fetch_add_explicit(&accepts, 1, memory_order_relaxed);
			close(fd);
			sem_post(&credits);
			continue;
		}
		if (atomic_load(&server_stop))
			break;
		/* Transient: the peer was gone before accept, or fds ran out
		 * for a moment. Anything else is fatal. */
		if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
		    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			continue;
		server_errno = errno;
		break;
	}
	return NULL;
}

static int record(struct client *c, int fd)
{
	struct sockaddr_storage me, peer;
	socklen_t mlen = sizeof(me), plen = sizeof(peer);
	struct tuple *t;

	if (getsockname(fd, (struct sockaddr *)&me, &mlen) ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen))
		return -1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		struct tuple *p = realloc(c->truth, cap * sizeof(*p));

		if (!p)
			return -1;
		c->truth = p;
		c->cap = cap;
	}
	t = &c->truth[c->n++];
	if (opt.family == AF_INET) {
		const struct sockaddr_in *m = (void *)&me, *p = (void *)&peer;

		memcpy(t->caddr, &m->sin_addr, 4);
		memcpy(t->saddr, &p->sin_addr, 4);
		t->cport = ntohs(m->sin_port);
		t->sport = ntohs(p->sin_port);
	} else {
		const struct sockaddr_in6 *m = (void *)&me, *p = (void *)&peer;

		memcpy(t->caddr, &m->sin6_addr, 16);
		memcpy(t->saddr, &p->sin6_addr, 16);
		t->cport = ntohs(m->sin6_port);
		t->sport = ntohs(p->sin6_port);
	}
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	char buf[64];

	prctl(PR_SET_NAME, CLIENT_COMM, 0, 0, 0);
	pin_to(1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int fd;

		/* A credit per connection, returned by the server's accept.
		 * The timeout only lets a client see the stop flag. */
		if (sem_trywait(&credits)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (sem_timedwait(&credits, &ts))
				continue;
		}
		fd = socket(opt.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			sem_post(&credits);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS) {
				c->errors++;
				continue;
			}
			c->failed = errno;
			c->failed_call = "socket";
			break;
		}
		if (opt.mode == MODE_RST &&
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst))) {
			c->failed = errno;
			c->failed_call = "setsockopt(SO_LINGER)";
			close(fd);
			break;
		}
		if (connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen)) {
			/* EADDRNOTAVAIL: ephemeral ports ran out for a moment;
			 * ECONNREFUSED/ETIMEDOUT/ECONNRESET: queue overflow. */
			c->errors++;
			close(fd);
			sem_post(&credits);
			continue;
		}
		c->connects++;
		if (opt.truth_path && record(c, fd)) {
			c->failed = errno ? errno : ENOMEM;
			c->failed_call = "getsockname/getpeername";
			close(fd);
			break;
		}
		if (opt.mode == MODE_GRACEFUL) {
			ssize_t n;

			do
				n = read(fd, buf, sizeof(buf));
			while (n > 0 || (n < 0 && errno == EINTR));
		}
		close(fd);
	}
	return NULL;
}

static int write_truth(const struct client *cl, int n)
{
	FILE *f = fopen(opt.truth_path, "w");
	static char fbuf[1 << 20];

	if (!f)
		return -1;
	setvbuf(f, fbuf, _IOFBF, sizeof(fbuf));
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < cl[i].n; j++) {
			const struct tuple *t = &cl[i].truth[j];
			char ca[INET6_ADDRSTRLEN], sa[INET6_ADDRSTRLEN];

			inet_ntop(opt.family, t->caddr, ca, sizeof(ca));
			inet_ntop(opt.family, t->saddr, sa, sizeof(sa));
			fprintf(f, "%s %u %s %u\n", ca, t->cport, sa, t->sport);
		}
	}
	return fclose(f);
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: flood [-m rst|graceful] [-4|-6] [-d SECONDS] [-c CLIENTS] [-o TRUTH_FILE] [-p]\n"
		"  -m MODE     rst (default): clients close with RST; graceful: clients wait for the server's FIN\n"
		"  -4, -6      127.0.0.1 (default) or ::1\n"
		"  -d SECONDS  how long to flood (default 5, at most 600)\n"
		"  -c CLIENTS  client threads (default 4, at most %d); one server thread\n"
		"  -o FILE     write each established connection as 'RADDR RPORT LADDR LPORT'\n"
		"  -p          pin the server thread to CPU 0 and the clients to CPU 1\n",
		MAX_CLIENTS);
	exit(status);
}

static void parse(int argc, char **argv)
{
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "m:46d:c:o:ph")) != -1) {
		switch (ch) {
		case 'm':
			if (!strcmp(optarg, "rst"))
				opt.mode = MODE_RST;
			else if (!strcmp(optarg, "graceful"))
				opt.mode = MODE_GRACEFUL;
			else
				usage(64);
			break;
		case '4':
			opt.family = AF_INET;
			break;
		case '6':
			opt.family = AF_INET6;
			break;
		case 'd':
			opt.seconds = strtod(optarg, &end);
			if (*end || !(opt.seconds > 0 && opt.seconds <= 600))
				usage(64);
			break;
		case 'c':
			opt.nclients = (int)strtol(optarg, &end, 10);
			if (*end || opt.nclients < 1 || opt.nclients > MAX_CLIENTS)
				usage(64);
			break;
		case 'o':
			opt.truth_path = optarg;
			break;
		case 'p':
			opt.pin = 1;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(64);
		}
	}
	if (optind != argc)
		usage(64);
}

static void listen_loopback(void)
{
	int one = 1;

	memset(&opt.addr, 0, sizeof(opt.addr));
	if (opt.family == AF_INET) {
		struct sockaddr_in *a = (void *)&opt.addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		opt.addrlen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&opt.addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		opt.addrlen = sizeof(*a);
	}
	listen_fd = socket(opt.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket");
	if (opt.family == AF_INET6 &&
	    setsockopt(listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		die("setsockopt(IPV6_V6ONLY)");
	if (bind(listen_fd, (struct sockaddr *)&opt.addr, opt.addrlen))
		die("bind");
	if (listen(listen_fd, 4096))
		die("listen");
	if (getsockname(listen_fd, (struct sockaddr *)&opt.addr, &opt.addrlen))
		die("getsockname");
}

int main(int argc, char **argv)
{
	static struct client cl[MAX_CLIENTS];
	struct rlimit rl;
	pthread_t srv;
	uint64_t connects = 0, errors = 0, in_window;
	double t0, t1, dl, tail, srv_cpu, all_cpu;
	unsigned port;
	int err;

	parse(argc, argv);
	/* Every thread, the main one too, shows as the server in ps. */
	prctl(PR_SET_NAME, SERVER_COMM, 0, 0, 0);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	listen_loopback();
	if (sem_init(&credits, 0, MAX_PENDING))
		die("sem_init");
	port = ntohs(opt.family == AF_INET ? ((struct sockaddr_in *)&opt.addr)->sin_port
					   : ((struct sockaddr_in6 *)&opt.addr)->sin6_port);

	t0 = now();
	if ((err = pthread_create(&srv, NULL, server_main, NULL))) {
		errno = err;
		die("pthread_create");
	}
	for (int i = 0; i < opt.nclients; i++) {
		if ((err = pthread_create(&cl[i].thread, NULL, client_main, &cl[i]))) {
			errno = err;
			die("pthread_create");
		}
	}
	dl = t0 + opt.seconds;
	for (double t = now(); t < dl; t = now()) {
		double left = dl - t;
		struct timespec ts = { .tv_sec = (time_t)left,
				       .tv_nsec = (long)((left - (double)(time_t)left) * 1e9) };

		nanosleep(&ts, NULL);
	}
	in_window = atomic_load(&accepts);
	t1 = now();
	/* CPU time per accept: the server thread's alone (what a tracer adds
	 * to each accept() call shows here first) and the whole flood's. */
	srv_cpu = thread_cpu_seconds(srv);
	all_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
	atomic_store(&stop, 1);
	for (int i = 0; i < opt.nclients; i++)
		pthread_join(cl[i].thread, NULL);
	for (int i = 0; i < opt.nclients; i++)
		connects += cl[i].connects;
	/* The clients are done: let the server accept what is still queued
	 * (for at most a second), then wake it; on Linux shutdown() makes a
	 * blocked accept() return. */
	atomic_store(&server_stop, 1);
	for (double t = now(); atomic_load(&accepts) < connects && now() - t < 1.0;)
		usleep(1000);
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(srv, NULL);
	tail = now() - t1;

	for (int i = 0; i < opt.nclients; i++) {
		if (cl[i].failed) {
			fprintf(stderr, "flood: client %d: %s: %s\n", i, cl[i].failed_call,
				strerror(cl[i].failed));
			return 1;
		}
		errors += cl[i].errors;
	}
	if (server_errno) {
		fprintf(stderr, "flood: accept: %s\n", strerror(server_errno));
		return 1;
	}
	if (opt.truth_path && write_truth(cl, opt.nclients))
		die(opt.truth_path);
	/* rate: accepts within the timed window; accepts: all of them, the
	 * few after the window (clients finishing) included. */
	printf("mode=%s ip=%d seconds=%.3f clients=%d pid=%d comm=%s port=%u "
	       "accepts=%llu rate=%.0f connects=%llu connect_errors=%llu tail_s=%.3f "
	       "srv_cpu_us=%.3f cpu_us=%.3f\n",
	       opt.mode == MODE_RST ? "rst" : "graceful", opt.family == AF_INET ? 4 : 6,
	       t1 - t0, opt.nclients, (int)getpid(), SERVER_COMM, port,
	       (unsigned long long)atomic_load(&accepts), (double)in_window / (t1 - t0),
	       (unsigned long long)connects, (unsigned long long)errors, tail,
	       in_window ? srv_cpu * 1e6 / (double)in_window : 0.0,
	       in_window ? all_cpu * 1e6 / (double)in_window : 0.0);
	return 0;
}
