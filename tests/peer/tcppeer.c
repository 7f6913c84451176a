// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcppeer - TCP (or AF_UNIX) server + client used as ground truth by the
 * tcpaccept end-to-end tests.  See README.md in this directory.
 *
 * The server is the main process; the clients run in a forked child
 * (comm "tcppeer-cli").  Each client records its own getsockname() and
 * getpeername() right after connect() and ships the records to the server
 * over a socketpair; the server prints one ACCEPT line per record once all
 * accepts are done, plus the tid/comm of the thread that did the accept.
 *
 * Only plain libc + Linux syscalls (io_uring via raw syscalls), so it links
 * statically and cross-compiles:
 *   cc -static -O2 -Wall -Wextra -Werror -pthread -o tcppeer tcppeer.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <dirent.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define PROTO_MIXED -2

#define EXIT_USAGE 64
#define EXIT_SKIP 77
#define LISTEN_BACKLOG 4096
#define ADDR_MAX 128
/*
 * Normal mode: the client keeps at most this many connections that the
 * server has not accepted yet, so the accept queue never overflows (an
 * overflow drops SYNs and stalls connect() for seconds).
 */
#define CONNECT_WINDOW 1024

enum family { FAM_4, FAM_6, FAM_MAPPED, FAM_UNIX };

static struct {
	enum family fam;
	unsigned port;
	long count;
	int use_accept4;
	int rst;
	long delay_ms;
	int wait;
	int block_first;
	int threads;
	int io_uring;
	int client_threads;
	int timeout;
	long uid;		/* --uid: accept as this user (-1: stay) */
	long connect_interval;	/* --connect-interval: ms between connects */
	int proto;		/* --proto: the listener's IPPROTO_* (0: TCP) */
	int client_proto;	/* --client-proto: the clients' (-1: as --proto,
				 * PROTO_MIXED: MPTCP and TCP in turn) */
	int fastopen;		/* --fastopen: TCP Fast Open, data in the SYN */
	int stats;		/* --stats: print the netns's counters that moved */
	long hold_ms;		/* --hold: ms a queued connection waits */
	int backlog;		/* --backlog: listen()'s backlog */
	long burst;		/* --burst: this many clients connect at once */
	long emfile;		/* --emfile: accept() calls failing with EMFILE */
	long eagain;		/* --eagain: a non-blocking listener's EAGAINs */
	int lazy_ack;		/* --lazy-ack: --burst's requests wait in the SYN queue */
	int wait_end;		/* --wait-end: keep the listener until a stdin line */
	long attachments;	/* --attachments PID: what PID's BPF programs hang on */
	char comm[256];
} opt = {
	.client_proto = -1,
	.fam = FAM_4,
	.count = 1,
	.threads = 1,
	.client_threads = 1,
	.timeout = 30,
	.uid = -1,
	.backlog = LISTEN_BACKLOG,
	.comm = "tcppeer-srv",
};

static const char *who = "tcppeer";

/* ---------------------------------------------------------------- errors */

static void die(const char *call)
{
	int e = errno;

	fprintf(stderr, "%s: %s: %s\n", who, call, strerror(e));
	exit(1);
}

/* socket() failed for protocol @proto: say which protocol the kernel
 * lacks, in words a test can match. */
static void die_proto(const char *call, int proto)
{
	int e = errno;

	fprintf(stderr, "%s: %s (protocol %d): %s\n", who, call, proto, strerror(e));
	exit(1);
}

/* What SO_PROTOCOL says, by name (an AF_UNIX socket's is 0). */
static const char *proto_name(int proto)
{
	switch (proto) {
	case 0: return "unix";
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_MPTCP: return "mptcp";
	case IPPROTO_SCTP: return "sctp";
	default: return "other";
	}
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void write_str(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));

	(void)r;
}

static void on_alarm(int sig)
{
	(void)sig;
	write_str(2, who);
	write_str(2, ": timeout, giving up\n");
	_exit(2);
}

static volatile pid_t child_pid;
static volatile sig_atomic_t child_reaped;
static volatile int child_status;

static void on_sigchld(int sig)
{
	int saved = errno, st;
	pid_t r;

	(void)sig;
	if (child_pid > 0 && !child_reaped) {
		r = waitpid(child_pid, &st, WNOHANG);
		if (r == child_pid) {
			child_status = st;
			child_reaped = 1;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				write_str(2, "tcppeer: client process failed\n");
				_exit(1);
			}
		}
	}
	errno = saved;
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		die("sigaction");
}

/* --------------------------------------------------------------- helpers */

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR)
			die("nanosleep");
	}
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += r;
		len -= (size_t)r;
	}
}

/* Returns 0 on EOF before anything was read, 1 when len bytes were read. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		if (r == 0) {
			if (got == 0)
				return 0;
			fail("read: unexpected EOF on control socket");
		}
		got += (size_t)r;
	}
	return 1;
}

static void send_byte(int fd, char c)
{
	write_all(fd, &c, 1);
}

static void expect_byte(int fd, char want)
{
	char c;

	if (!read_all(fd, &c, 1))
		fail("control socket closed by peer (waiting for '%c')", want);
	if (c != want)
		fail("control protocol error: got '%c', want '%c'", c, want);
}

/* Escape bytes outside 0x21..0x7e and the backslash as \xHH. */
static void escape_bytes(const unsigned char *in, size_t n, char *out,
			 size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outsz; i++) {
		unsigned char c = in[i];

		if (c < 0x21 || c > 0x7e || c == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* C-style unescape: \xHH (1-2 digits), \n, \t, \r, \\ ; -1 on bad escape */
static int unescape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	while (*in) {
		int c = (unsigned char)*in++;

		if (c == '\\') {
			int h, l;

			switch (*in++) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '\\': c = '\\'; break;
			case 'x':
				h = hexval((unsigned char)*in);
				if (h < 0)
					return -1;
				in++;
				l = hexval((unsigned char)*in);
				if (l >= 0) {
					in++;
					h = h * 16 + l;
				}
				c = h;
				break;
			default:
				return -1;
			}
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static long parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tcppeer: invalid %s '%s' (%ld..%ld)\n", what,
			s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

/* ------------------------------------------------------------- addresses */

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct sockaddr_storage ss;
};

/*
 * Format an address the way the server side sees it.  With as_mapped, an
 * AF_INET address is shown as the IPv4-mapped IPv6 address.
 */
static void fmt_addr(const union sockaddr_any *a, socklen_t len, int as_mapped,
		     char *out, size_t outsz, unsigned *port)
{
	*port = 0;
	switch (a->sa.sa_family) {
	case AF_INET:
		*port = ntohs(a->in4.sin_port);
		if (as_mapped) {
			struct in6_addr m;

			memset(&m, 0, sizeof(m));
			m.s6_addr[10] = 0xff;
			m.s6_addr[11] = 0xff;
			memcpy(&m.s6_addr[12], &a->in4.sin_addr, 4);
			inet_ntop(AF_INET6, &m, out, (socklen_t)outsz);
		} else {
			inet_ntop(AF_INET, &a->in4.sin_addr, out,
				  (socklen_t)outsz);
		}
		break;
	case AF_INET6:
		*port = ntohs(a->in6.sin6_port);
		inet_ntop(AF_INET6, &a->in6.sin6_addr, out, (socklen_t)outsz);
		break;
	case AF_UNIX: {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		if (n == 0) {
			snprintf(out, outsz, "-");
		} else if (a->un.sun_path[0] == '\0') {
			out[0] = '@';
			escape_bytes((const unsigned char *)a->un.sun_path + 1,
				     n - 1, out + 1, outsz - 1);
		} else {
			escape_bytes((const unsigned char *)a->un.sun_path,
				     strnlen(a->un.sun_path, n), out, outsz);
		}
		break;
	}
	default:
		snprintf(out, outsz, "?");
	}
}

/* ---------------------------------------------------------------- state */

struct record {			/* one client connection, sent over ctl */
	char raddr[ADDR_MAX];	/* client's getsockname() */
	char laddr[ADDR_MAX];	/* client's getpeername() */
	unsigned rport, lport;
	int error;		/* --burst: connect()'s SO_ERROR (0: connected;
				 * EINPROGRESS: still trying when stopped) */
	int accepted;		/* --burst: the server accepted it */
	int64_t connect_ns;	/* CLOCK_MONOTONIC before connect() */
	int64_t seen_ns;	/* ... after handshake_seen() (0: not seen) */
};

struct accepted {		/* one accept, filled by the server */
	pid_t tid;
	int has_peer;
	unsigned pport, sport;
	char peer[ADDR_MAX];	/* the accepted fd's getpeername() */
	char self[ADDR_MAX];	/* ... and getsockname() */
	int proto;		/* ... and SO_PROTOCOL */
	char comm[17];
	long rec;		/* matched record index, -1 if none */
	int64_t call_ns, ret_ns;	/* CLOCK_MONOTONIC around accept() */
};

static int listen_fd = -1;
static unsigned listen_port;
static union sockaddr_any srv_addr;	/* what clients connect to */
static socklen_t srv_len;
static struct accepted *accs;
static long claimed;		/* atomic: accepts claimed by threads */
static long *shared_accepted;	/* MAP_SHARED: accepts done by the server */
static long client_started;	/* atomic, client side: connects started */

/* ---------------------------------------------------------- wait bounds */

/*
 * When the server delays its accepts (--hold, --delay-accept), each ACCEPT
 * line bounds the wait that tcpaccept measures: from the child socket's
 * SYN_RECV -> ESTABLISHED (the inet_sock_set_state tracepoint, T0) to the
 * accept hook (T1: fexit/kretprobe of inet_csk_accept, the syscall's exit
 * tracepoint or io_uring_complete), both on bpf_ktime_get_ns(), which is
 * CLOCK_MONOTONIC.  T1 lies inside the accept call: call_ns <= T1 <=
 * ret_ns.  T0 follows the client's SYN, so connect_ns < T0.  connect()'s
 * return is no bound on T0: the client's final ACK may be processed after
 * connect() returned (in ksoftirqd, or on another CPU).  What is one: the
 * tracepoint fires before the kernel stores the new state (with release
 * order, inet_sk_state_store()), and /proc/net/tcp reads it with acquire
 * order, so a server socket seen there in any state but SYN_RECV had its
 * T0 before seen_ns.  So T1 - T0 lies in
 * [max(0, call_ns - seen_ns), ret_ns - connect_ns].
 */
static int wait_bounds(void)
{
	return (opt.hold_ms || opt.delay_ms) && opt.fam != FAM_UNIX;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The first socket of local port @lport in /proc/net/tcp{,6} whose remote
 * port is @cport (-1: any) and state @want (-1: any), which lists request
 * sockets too: its state (TCP_* number), -1 if none. */
static int find_server_sock(unsigned lport, long cport, int want)
{
	const char *path = opt.fam == FAM_4 ? "/proc/net/tcp" : "/proc/net/tcp6";
	unsigned local, remote, st;
	char line[512];
	int state = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		die(path);
	while (state < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*[0-9A-F]:%X %*[0-9A-F]:%X %X",
			   &local, &remote, &st) == 3 &&
		    local == lport && (cport < 0 || remote == cport) && (want < 0 || (int)st == want))
			state = (int)st;
	fclose(f);
	return state;
}

/* The server's socket for the client at port @cport of listener port
 * @lport: its state, -1 if absent. */
static int server_sock_state(unsigned lport, unsigned cport)
{
	return find_server_sock(lport, cport, -1);
}

/* seen_ns (above) for the client at @cport; 0 if the socket is gone. */
static int64_t handshake_seen(unsigned lport, unsigned cport)
{
	struct timespec pause = { 0, 100000 };
	int state;

	while ((state = server_sock_state(lport, cport)) == TCP_SYN_RECV)
		nanosleep(&pause, NULL);
	return state < 0 ? 0 : mono_ns();
}

static void print_wait_bounds(const struct accepted *ac, const struct record *rc)
{
	int64_t lo = rc->seen_ns ? ac->call_ns - rc->seen_ns : 0;

	if (wait_bounds())
		printf(" wait_min_ns=%lld wait_max_ns=%lld", (long long)(lo > 0 ? lo : 0),
		       (long long)(ac->ret_ns - rc->connect_ns));
}

/* ------------------------------------------------------------- io_uring */

static struct {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
} ring = { .fd = -1 };

static void uring_setup(void)
{
	struct io_uring_params p;
	size_t sq_sz, cq_sz;
	char *sq, *cq;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		if (errno == ENOSYS || errno == EPERM) {
			fprintf(stderr,
				"tcppeer: io_uring unavailable (io_uring_setup: %s), skipping\n",
				strerror(errno));
			exit(EXIT_SKIP);
		}
		die("io_uring_setup");
	}
	sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		die("mmap(io_uring sq ring)");
	cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  fd, IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		die("mmap(io_uring cq ring)");
	ring.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			 IORING_OFF_SQES);
	if (ring.sqes == MAP_FAILED)
		die("mmap(io_uring sqes)");
	ring.fd = fd;
	ring.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ring.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ring.sq_array = (unsigned *)(sq + p.sq_off.array);
	ring.cq_head = (unsigned *)(cq + p.cq_off.head);
	ring.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ring.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ring.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

static int uring_enter(unsigned submit, unsigned wait)
{
	return (int)syscall(__NR_io_uring_enter, ring.fd, submit, wait,
			    IORING_ENTER_GETEVENTS, NULL, 0);
}

/* One IORING_OP_ACCEPT; returns the new fd, or -1 with errno set. */
static int uring_accept(int lfd, int flags)
{
	static int first = 1;
	unsigned tail = *ring.sq_tail, idx = tail & *ring.sq_mask;
	struct io_uring_sqe *sqe = &ring.sqes[idx];
	int submitted = 0, res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_ACCEPT;
	sqe->fd = lfd;
	sqe->addr = 0;		/* no peer address wanted */
	sqe->addr2 = 0;
	sqe->accept_flags = (unsigned)flags;
	sqe->user_data = 0x7463;
	ring.sq_array[idx] = idx;
	__atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);

	for (;;) {
		unsigned head = *ring.cq_head;

		if (head != __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE)) {
			res = ring.cqes[head & *ring.cq_mask].res;
			__atomic_store_n(ring.cq_head, head + 1,
					 __ATOMIC_RELEASE);
			break;
		}
		if (uring_enter(submitted ? 0 : 1, 1) < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EBUSY)
				continue;
			die("io_uring_enter");
		}
		submitted = 1;
	}
	if (res < 0) {
		if (first && res == -EINVAL) {
			fprintf(stderr,
				"tcppeer: IORING_OP_ACCEPT not supported by this kernel, skipping\n");
			exit(EXIT_SKIP);
		}
		errno = -res;
		return -1;
	}
	first = 0;
	return res;
}

/* --------------------------------------------------------------- server */

static void setup_listener(void)
{
	union sockaddr_any a;
	socklen_t alen;
	int one = 1, zero = 0, fd;

	memset(&a, 0, sizeof(a));
	memset(&srv_addr, 0, sizeof(srv_addr));
	switch (opt.fam) {
	case FAM_4:
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, opt.proto);
		if (fd < 0)
			die_proto("socket(AF_INET)", opt.proto);
		a.in4.sin_family = AF_INET;
		a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.in4.sin_port = htons((uint16_t)opt.port);
		alen = sizeof(a.in4);
		break;
	case FAM_6:
	case FAM_MAPPED:
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, opt.proto);
		if (fd < 0)
			die_proto("socket(AF_INET6)", opt.proto);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
			       opt.fam == FAM_6 ? &one : &zero, sizeof(int)) < 0)
			die("setsockopt(IPV6_V6ONLY)");
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = opt.fam == FAM_6 ? in6addr_loopback
						   : in6addr_any;
		a.in6.sin6_port = htons((uint16_t)opt.port);
		alen = sizeof(a.in6);
		break;
	default: {
		struct timespec ts;
		int n;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		a.un.sun_family = AF_UNIX;
		/* abstract name: leading NUL byte */
		n = snprintf(a.un.sun_path + 1, sizeof(a.un.sun_path) - 1,
			     "tcppeer.%d.%lx", (int)getpid(),
			     (unsigned long)ts.tv_nsec);
		alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				   (size_t)n);
		break;
	}
	}
	if (fd < 0)
		die("socket");
	if (opt.fam != FAM_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("setsockopt(SO_REUSEADDR)");
	if (bind(fd, &a.sa, alen) < 0)
		die("bind");
	if (opt.fastopen) {
		int qlen = LISTEN_BACKLOG;

		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) < 0)
			die("setsockopt(TCP_FASTOPEN)");
	}
	if (listen(fd, opt.backlog) < 0)
		die("listen");
	if (opt.eagain && fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl(O_NONBLOCK)");
	alen = sizeof(a);
	if (getsockname(fd, &a.sa, &alen) < 0)
		die("getsockname(listener)");

	switch (opt.fam) {
	case FAM_4:
	case FAM_MAPPED:
		listen_port = ntohs(opt.fam == FAM_4 ? a.in4.sin_port
						     : a.in6.sin6_port);
		srv_addr.in4.sin_family = AF_INET;
		srv_addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		srv_addr.in4.sin_port = htons((uint16_t)listen_port);
		srv_len = sizeof(srv_addr.in4);
		break;
	case FAM_6:
		listen_port = ntohs(a.in6.sin6_port);
		srv_addr.in6.sin6_family = AF_INET6;
		srv_addr.in6.sin6_addr = in6addr_loopback;
		srv_addr.in6.sin6_port = htons((uint16_t)listen_port);
		srv_len = sizeof(srv_addr.in6);
		break;
	default:
		listen_port = 0;
		srv_addr = a;
		srv_len = alen;
	}
	listen_fd = fd;
}

static long done_seq;		/* atomic: accepts completed so far */

/* --emfile, --eagain: the server's own count of its failed accept() calls,
 * by errno (FAILED lines). */
#define ERRNO_SLOTS 256
static long failures[ERRNO_SLOTS];

static const char *errno_name(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EMFILE: return "EMFILE";
	default: return "other";
	}
}

/* One accept() of the kind the options ask for: the new fd, or -1 with
 * errno set. No address buffer: the kernel cannot turn an accept of an
 * already-reset connection into ECONNABORTED when it does not have to
 * report the peer address. */
static int accept_call(void)
{
	int flags = opt.use_accept4 ? SOCK_CLOEXEC : 0;

	if (opt.io_uring)
		return uring_accept(listen_fd, flags);
	if (opt.use_accept4)
		return accept4(listen_fd, NULL, NULL, flags);
	return accept(listen_fd, NULL, NULL);
}

static const char *accept_name(void)
{
	return opt.io_uring ? "io_uring accept" : opt.use_accept4 ? "accept4" : "accept";
}

static void wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			die("poll");
}

/* --eagain: accept() on the idle non-blocking listener, each call failing
 * with EAGAIN (before any client connects). */
static void accept_until_eagain(void)
{
	for (long i = 0; i < opt.eagain; i++) {
		int fd = accept_call();

		if (fd >= 0)
			fail("%s on an idle listener returned fd %d", accept_name(), fd);
		if (errno != EAGAIN)
			die(accept_name());
		failures[EAGAIN]++;
	}
}

/* --emfile: with a connection queued and no descriptor free below
 * RLIMIT_NOFILE, each accept() fails with EMFILE and leaves the connection
 * queued for the accepts after; then the limit and the table are as before. */
static void accept_at_emfile(void)
{
	struct rlimit saved, rl;
	long nfill = 0;
	int spare, fd, *fill;

	wait_readable(listen_fd);
	if (getrlimit(RLIMIT_NOFILE, &saved) < 0)
		die("getrlimit");
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (spare < 0)
		die("open(/dev/null)");
	rl = saved;
	rl.rlim_cur = (rlim_t)spare + 1;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit(RLIMIT_NOFILE)");
	/* The table below the new limit may have holes: fill them. */
	fill = calloc((size_t)spare + 1, sizeof(*fill));
	if (!fill)
		die("calloc");
	while ((fd = dup(spare)) >= 0)
		fill[nfill++] = fd;
	if (errno != EMFILE)
		die("dup");
	for (long i = 0; i < opt.emfile; i++) {
		fd = accept_call();
		if (fd >= 0)
			fail("%s returned fd %d with no descriptor free", accept_name(), fd);
		if (errno != EMFILE)
			die(accept_name());
		failures[EMFILE]++;
	}
	while (nfill > 0)
		close(fill[--nfill]);
	close(spare);
	free(fill);
	if (setrlimit(RLIMIT_NOFILE, &saved) < 0)
		die("setrlimit(RLIMIT_NOFILE)");
}

/*
 * Accept one connection (called by the accepting thread).  Results are
 * stored in completion order, so with one accepting thread the output order
 * is the kernel's accept order.
 */
static void accept_one(pid_t tid, const char *comm)
{
	struct accepted *ac;
	union sockaddr_any peer;
	socklen_t plen = sizeof(peer);
	int fd;
	int64_t call_ns, ret_ns;

	if (opt.delay_ms)
		sleep_ms(opt.delay_ms);
	if (opt.hold_ms) {
		/* A known wait: from the moment a connection is queued. */
		wait_readable(listen_fd);
		sleep_ms(opt.hold_ms);
	}
	/* A non-blocking listener: poll first, as its servers do. */
	if (opt.eagain)
		wait_readable(listen_fd);
	for (;;) {
		call_ns = mono_ns();
		fd = accept_call();
		if (fd >= 0)
			break;
		if (errno == EINTR)
			continue;
		/* A non-blocking listener: each EAGAIN is counted too. */
		if (errno == EAGAIN && opt.eagain) {
			failures[EAGAIN]++;
			wait_readable(listen_fd);
			continue;
		}
		die(accept_name());
	}
	ret_ns = mono_ns();
	ac = &accs[__atomic_fetch_add(&done_seq, 1, __ATOMIC_ACQ_REL)];
	__atomic_fetch_add(shared_accepted, 1, __ATOMIC_RELEASE);
	ac->call_ns = call_ns;
	ac->ret_ns = ret_ns;
	ac->tid = tid;
	ac->rec = -1;
	snprintf(ac->comm, sizeof(ac->comm), "%s", comm);
	/* Pairs thread <-> connection, and checks the client's records
	 * against the server's own view (match()); fails after an RST. */
	if (getpeername(fd, &peer.sa, &plen) == 0 &&
	    plen > offsetof(struct sockaddr_un, sun_path)) {
		fmt_addr(&peer, plen, 0, ac->peer, sizeof(ac->peer),
			 &ac->pport);
		ac->has_peer = 1;
		plen = sizeof(peer);
		if (getsockname(fd, &peer.sa, &plen) < 0)
			die("getsockname(accepted)");
		fmt_addr(&peer, plen, 0, ac->self, sizeof(ac->self), &ac->sport);
	}
	plen = sizeof(ac->proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &ac->proto, &plen) < 0)
		die("getsockopt(SO_PROTOCOL)");
	/* Fast Open and --burst: take the client's byte, or close() would
	 * send an RST that may beat the client's getpeername(). */
	if (opt.fastopen || opt.burst) {
		char byte;

		while (read(fd, &byte, 1) < 0)
			if (errno != EINTR)
				die("read(accepted)");
	}
	if (close(fd) < 0)
		die("close(accepted)");
}

/* How many clients connect: --burst's, else one per accept. */
static long nclients(void)
{
	return opt.burst ? opt.burst : opt.count;
}

/*
 * --burst: after --count accepts, the server tells the clients to stop
 * ('S'); they reset every connection and attempt (so that nothing more
 * reaches the listener) and send their records.
 */
static void burst_stop(int ctl, struct record *recs)
{
	send_byte(ctl, 'S');
	if (!read_all(ctl, recs, (size_t)nclients() * sizeof(*recs)))
		fail("client closed the control socket");
	sleep_ms(20);	/* let loopback deliver the last RSTs */
}

static void print_failures(pid_t tid, const char *ecomm)
{
	for (int e = 0; e < ERRNO_SLOTS; e++)
		if (failures[e])
			printf("FAILED pid=%d tid=%d comm=%s errno=%s count=%ld ip=%s lport=%u\n",
			       (int)getpid(), (int)tid, ecomm, errno_name(e), failures[e],
			       opt.fam == FAM_4 ? "4" : opt.fam == FAM_UNIX ? "unix" : "6",
			       listen_port);
}

struct worker {
	pthread_t th;
	pid_t tid;		/* atomic */
	int state;		/* atomic: 0 starting, 1 has a slot, 2 no slot */
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pid_t tid = my_tid();
	char comm[17] = "";
	long slot;

	if (prctl(PR_GET_NAME, comm) < 0)
		die("prctl(PR_GET_NAME)");
	__atomic_store_n(&w->tid, tid, __ATOMIC_RELEASE);
	for (;;) {
		slot = __atomic_fetch_add(&claimed, 1, __ATOMIC_ACQ_REL);
		if (slot >= opt.count)
			break;
		__atomic_store_n(&w->state, 1, __ATOMIC_RELEASE);
		accept_one(tid, comm);
	}
	if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == 0)
		__atomic_store_n(&w->state, 2, __ATOMIC_RELEASE);
	return NULL;
}

/* Is thread `tid` of this process sleeping in accept()/accept4()? */
static int in_accept(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;
	long nr;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;	/* no /proc: cannot tell at all */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] != 'S')
		return 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;	/* cannot tell: sleeping is all we know */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	nr = strtol(buf, &p, 10);
	if (p == buf)
		return 0;		/* "running" */
#ifdef __NR_accept
	if (nr == __NR_accept)
		return 1;
#endif
	return nr == __NR_accept4;
}

static void wait_blocked(struct worker *w, int n)
{
	int fallback = 0;

	for (int i = 0; i < n; i++) {
		for (;;) {
			pid_t tid = __atomic_load_n(&w[i].tid, __ATOMIC_ACQUIRE);
			int st = __atomic_load_n(&w[i].state, __ATOMIC_ACQUIRE);
			int r;

			if (st == 2)
				break;
			if (tid && st == 1) {
				r = in_accept(tid);
				if (r == 1)
					break;
				if (r < 0) {
					fallback = 1;
					break;
				}
			}
			sleep_ms(1);
		}
	}
	if (fallback)	/* no /proc/.../syscall: state 'S' seen, add margin */
		sleep_ms(200 + opt.delay_ms);
}

static void wait_stdin_line(void)
{
	char c;

	for (;;) {
		ssize_t r = read(0, &c, 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read(stdin)");
		}
		if (r == 0 || c == '\n')
			return;
	}
}

/* Number of established connections waiting in the listener's queue. */
static long accept_queue_len(void)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		die("getsockopt(TCP_INFO)");
	return (long)ti.tcpi_unacked;	/* sk_ack_backlog for listeners */
}

/* ------------------------------------------------------------- matching */

static uint64_t key_hash(const char *addr, unsigned port)
{
	uint64_t h = 1469598103934665603ULL ^ port;

	for (; *addr; addr++)
		h = (h ^ (unsigned char)*addr) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* Pair every accept with a client record (by peer address if known). */
static void match(struct record *recs, long n, long naccepted)
{
	size_t sz = 1;
	long *tab, next_rec = 0;
	char *used = calloc((size_t)n, 1);

	while (sz < (size_t)n * 2)
		sz <<= 1;
	tab = malloc(sz * sizeof(*tab));
	if (!tab || !used)
		die("malloc");
	for (size_t i = 0; i < sz; i++)
		tab[i] = -1;
	for (long r = 0; r < n; r++) {
		size_t h = key_hash(recs[r].raddr, recs[r].rport) & (sz - 1);

		while (tab[h] >= 0)
			h = (h + 1) & (sz - 1);
		tab[h] = r;
	}
	for (long s = 0; s < naccepted; s++) {
		struct accepted *ac = &accs[s];
		size_t h;

		if (!ac->has_peer)
			continue;
		h = key_hash(ac->peer, ac->pport) & (sz - 1);
		for (; tab[h] >= 0; h = (h + 1) & (sz - 1)) {
			struct record *rc = &recs[tab[h]];

			if (!used[tab[h]] && rc->rport == ac->pport &&
			    !strcmp(rc->raddr, ac->peer)) {
				used[tab[h]] = 1;
				ac->rec = tab[h];
				break;
			}
		}
		if (ac->rec < 0)
			fail("accepted a connection from %s port %u that no client made",
			     ac->peer, ac->pport);
		/* The server's getsockname() agrees with the client's
		 * getpeername() (UNIX sockets: the client's is the name). */
		if (opt.fam != FAM_UNIX && (strcmp(recs[ac->rec].laddr, ac->self) ||
					    recs[ac->rec].lport != ac->sport))
			fail("accepted fd's getsockname() %s port %u, the client's getpeername() %s port %u",
			     ac->self, ac->sport, recs[ac->rec].laddr, recs[ac->rec].lport);
	}
	/* Fallback (peer unknown, e.g. after RST): record order. */
	for (long s = 0; s < naccepted; s++) {
		if (accs[s].rec >= 0)
			continue;
		while (next_rec < n && used[next_rec])
			next_rec++;
		if (next_rec >= n)
			fail("internal error: more accepts than client records");
		used[next_rec] = 1;
		accs[s].rec = next_rec;
	}
	free(tab);
	free(used);
}

/* ---------------------------------------------------------------- stats */

/* --stats: the counters of this network namespace that tell how the
 * handshakes went (Fast Open, SYN cookies, MPTCP), from /proc/net/netstat:
 * "Prefix: name name ...\nPrefix: value value ...". */
#define STATS_MAX 512
static const char *const stat_prefixes[] = {
	"TCPFastOpen", "Syncookies", "MPCapable", "Listen", "TCPReqQFull", NULL
};
static char stat_names[STATS_MAX][64];
static unsigned long long stats_before[STATS_MAX];

static int read_stats(unsigned long long *values)
{
	static char buf[65536];
	char *names, *vals, *save1, *save2, *n, *v, *line_save = NULL;
	ssize_t len;
	int fd = open("/proc/net/netstat", O_RDONLY | O_CLOEXEC), k = 0;

	if (fd < 0)
		die("open(/proc/net/netstat)");
	len = read(fd, buf, sizeof(buf) - 1);
	if (len <= 0)
		die("read(/proc/net/netstat)");
	close(fd);
	buf[len] = '\0';
	for (names = strtok_r(buf, "\n", &line_save); names;
	     names = strtok_r(NULL, "\n", &line_save)) {
		char prefix[32];

		vals = strtok_r(NULL, "\n", &line_save);
		if (!vals)
			break;
		n = strtok_r(names, " ", &save1);
		v = strtok_r(vals, " ", &save2);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)strlen(n) - 1, n);
		while ((n = strtok_r(NULL, " ", &save1)) && (v = strtok_r(NULL, " ", &save2)) &&
		       k < STATS_MAX) {
			snprintf(stat_names[k], sizeof(stat_names[k]), "%s.%s", prefix, n);
			values[k++] = strtoull(v, NULL, 10);
		}
	}
	return k;
}

static void print_stats(void)
{
	static unsigned long long after[STATS_MAX];
	int n = read_stats(after);

	for (int i = 0; i < n; i++) {
		const char *name = strchr(stat_names[i], '.') + 1;

		for (int j = 0; stat_prefixes[j]; j++)
			if (!strncmp(name, stat_prefixes[j], strlen(stat_prefixes[j])) &&
			    after[i] != stats_before[i])
				printf("STAT %s=%llu\n", stat_names[i], after[i] - stats_before[i]);
	}
}

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

/* --stats, before the counters are read: no request of the listener is
 * pending (each retransmits its SYN-ACK, and the closed client's reset
 * counts as the listener's drop). */
static void wait_no_requests(void)
{
	while (find_server_sock(listen_port, -1, TCP_SYN_RECV) >= 0)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
}

/* --stats, before the counters are read: what the loopback has queued
 * (the clients' last resets, say) reaches its sockets. Loopback queues a
 * packet on the sending CPU's backlog, which is processed in order: a
 * datagram this thread sends to itself from each CPU in turn, once
 * received, comes after everything queued there before it. */
static void flush_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	socklen_t alen = sizeof(a);
	cpu_set_t all, one;
	char byte = 0;
	int fd;

	if (sched_getaffinity(0, sizeof(all), &all) < 0)
		die("sched_getaffinity");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("socket(loopback flush)");
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) < 0)
			die("sched_setaffinity");
		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1 ||
		    recv(fd, &byte, 1, 0) != 1)
			die("loopback flush");
	}
	if (sched_setaffinity(0, sizeof(all), &all) < 0)
		die("sched_setaffinity");
	close(fd);
}

/* --stats: the listener's own drop counter (sk_drops: what `ss -tlm` shows
 * as skmem's d), which counts only this listener, in whatever network
 * namespace. */
static void print_listener(void)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(listen_fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
		die("getsockopt(SO_MEMINFO)");
	printf("LISTENER lport=%u backlog=%d drops=%u\n", listen_port, opt.backlog,
	       (unsigned)mem[SK_MEMINFO_DROPS]);
}

/* --------------------------------------------------------------- client */

/* The protocol of client @i: --client-proto's, mixed in turn. */
static int client_proto_of(long i)
{
	if (opt.client_proto == PROTO_MIXED)
		return i % 2 ? IPPROTO_TCP : IPPROTO_MPTCP;
	return opt.client_proto;
}

struct cthread {
	pthread_t th;
	long first, n;
	int *fds;
	struct record *recs;
	pthread_barrier_t *bar;
};

static void *client_main(void *arg)
{
	struct cthread *ct = arg;
	int dom = srv_addr.sa.sa_family;

	pthread_barrier_wait(ct->bar);
	for (long i = 0; i < ct->n; i++) {
		union sockaddr_any a;
		socklen_t alen;
		struct record *rc = &ct->recs[ct->first + i];
		long started = __atomic_fetch_add(&client_started, 1,
						  __ATOMIC_ACQ_REL);
		int fd, proto;

		while (!opt.rst && started - __atomic_load_n(shared_accepted,
					__ATOMIC_ACQUIRE) >= CONNECT_WINDOW)
			sleep_ms(1);
		/* A steady arrival rate, for a queue that builds up. */
		if (opt.connect_interval && started)
			sleep_ms(opt.connect_interval);
		proto = client_proto_of(ct->first + i);
		fd = socket(dom, SOCK_STREAM | SOCK_CLOEXEC, dom == AF_UNIX ? 0 : proto);
		if (fd < 0)
			die_proto("socket", proto);
		if (dom == AF_UNIX) {
			/* autobind: gives every client a unique abstract name */
			a.un.sun_family = AF_UNIX;
			if (bind(fd, &a.sa, sizeof(sa_family_t)) < 0)
				die("bind(autobind)");
		}
		/* Fast Open: the SYN carries this byte (once the client
		 * has the server's cookie, from the first connection on). */
		rc->connect_ns = mono_ns();
		while (opt.fastopen ? sendto(fd, "x", 1, MSG_FASTOPEN, &srv_addr.sa, srv_len) < 0
				    : connect(fd, &srv_addr.sa, srv_len) < 0) {
			if (errno != EINTR)
				die(opt.fastopen ? "sendto(MSG_FASTOPEN)" : "connect");
		}
		/* sendto() may return with the SYN sent, before the SYN-ACK:
		 * getpeername() wants the connection established. */
		if (opt.fastopen) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			while (poll(&pfd, 1, -1) < 0)
				if (errno != EINTR)
					die("poll");
		}
		alen = sizeof(a);
		if (getsockname(fd, &a.sa, &alen) < 0)
			die("getsockname");
		fmt_addr(&a, alen, opt.fam == FAM_MAPPED, rc->raddr,
			 sizeof(rc->raddr), &rc->rport);
		alen = sizeof(a);
		if (getpeername(fd, &a.sa, &alen) < 0)
			die("getpeername");
		fmt_addr(&a, alen, opt.fam == FAM_MAPPED, rc->laddr,
			 sizeof(rc->laddr), &rc->lport);
		if (wait_bounds())
			rc->seen_ns = handshake_seen(rc->lport, rc->rport);
		ct->fds[ct->first + i] = fd;
	}
	return NULL;
}

static void raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need)
		rl.rlim_max = need;	/* needs CAP_SYS_RESOURCE */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit(RLIMIT_NOFILE)");
}

/* --burst: client @i's socket, bound first so that its address is known
 * before its SYN goes out (a drop of that SYN names it), connecting. With
 * --lazy-ack its handshake's last ACK waits for its request byte
 * (TCP_DEFER_ACCEPT on a connecting socket), so its request stays in the
 * listener's SYN queue until then. */
static void burst_connect(long i, struct record *recs, int *fds, struct pollfd *pfds)
{
	struct record *rc = &recs[i];
	int dom = srv_addr.sa.sa_family, one = 1, fd, proto = client_proto_of(i);
	union sockaddr_any a;
	socklen_t alen = dom == AF_INET ? sizeof(a.in4) : sizeof(a.in6);

	fd = socket(dom, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		die_proto("socket", proto);
	if (opt.lazy_ack && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) < 0)
		die("setsockopt(TCP_DEFER_ACCEPT)");
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = (sa_family_t)dom;
	if (dom == AF_INET)
		a.in4.sin_addr = srv_addr.in4.sin_addr;
	else
		a.in6.sin6_addr = srv_addr.in6.sin6_addr;
	if (bind(fd, &a.sa, alen) < 0)
		die("bind(client)");
	alen = sizeof(a);
	if (getsockname(fd, &a.sa, &alen) < 0)
		die("getsockname");
	fmt_addr(&a, alen, opt.fam == FAM_MAPPED, rc->raddr, sizeof(rc->raddr), &rc->rport);
	fmt_addr(&srv_addr, srv_len, opt.fam == FAM_MAPPED, rc->laddr, sizeof(rc->laddr),
		 &rc->lport);
	fds[i] = fd;
	rc->error = EINPROGRESS;
	pfds[i].fd = fd;
	pfds[i].events = POLLOUT;
	if (connect(fd, &srv_addr.sa, srv_len) < 0 && errno != EINPROGRESS) {
		rc->error = errno;
		pfds[i].fd = -1;
	}
}

/* Client @i's connect() has ended (or @wait_ms passed): its error, and
 * once connected its request, one byte (after a SYN cookie whose ACK a full
 * accept queue dropped, only the retransmits of that byte complete the
 * handshake). */
static void burst_settle(long i, struct record *recs, int *fds, struct pollfd *pfds, int wait_ms)
{
	socklen_t len = sizeof(recs[i].error);

	if (pfds[i].fd < 0)
		return;
	if (wait_ms >= 0 && poll(&pfds[i], 1, wait_ms) < 1)
		return;
	if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &recs[i].error, &len) < 0)
		die("getsockopt(SO_ERROR)");
	if (!recs[i].error && send(fds[i], "x", 1, MSG_NOSIGNAL) != 1)
		die("send(client)");
	pfds[i].fd = -1;
}

/*
 * --lazy-ack, before the server accepts anything: each client sends its
 * request only once the next but one has connected, so that requests wait
 * in the SYN queue while the accept queue fills, and the last ACKs of the
 * later ones find it full (ListenOverflows at the final ACK of a request
 * socket, not only at the SYN or a cookie's ACK).
 */
static void lazy_clients(struct record *recs, int *fds, struct pollfd *pfds, long n)
{
	for (long i = 0; i < n && i < 2; i++) {
		burst_connect(i, recs, fds, pfds);
		poll(&pfds[i], 1, 100);
	}
	for (long i = 0; i < n; i++) {
		burst_settle(i, recs, fds, pfds, 0);
		if (i + 2 < n) {
			burst_connect(i + 2, recs, fds, pfds);
			poll(&pfds[i + 2], 1, 100);
		}
	}
}

/*
 * --burst: every client connects at once, without waiting for the server
 * (with --lazy-ack, in the order above, then the server is told to start).
 * When the server says stop ('S'), every connection and attempt is reset.
 */
static void run_burst_clients(int ctl, struct record *recs, int *fds, long n)
{
	struct pollfd *pfds = calloc((size_t)n + 1, sizeof(*pfds));
	struct linger lg = { 1, 0 };

	if (!pfds)
		die("calloc");
	if (opt.lazy_ack) {
		lazy_clients(recs, fds, pfds, n);
		send_byte(ctl, 'C');
	} else {
		for (long i = 0; i < n; i++)
			burst_connect(i, recs, fds, pfds);
	}
	pfds[n].fd = ctl;
	pfds[n].events = POLLIN;
	for (;;) {
		if (poll(pfds, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfds[n].revents)
			break;
		for (long i = 0; i < n; i++)
			if (pfds[i].revents)
				burst_settle(i, recs, fds, pfds, -1);
	}
	expect_byte(ctl, 'S');
	for (long i = 0; i < n; i++) {
		if (setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			die("setsockopt(SO_LINGER)");
		if (close(fds[i]) < 0)
			die("close");
	}
	free(pfds);
	write_all(ctl, recs, (size_t)n * sizeof(*recs));
	expect_byte(ctl, 'D');
	_exit(0);
}

static pid_t server_pid;

static void run_client(int ctl)
{
	long n = nclients();
	int k = opt.client_threads;
	struct record *recs = calloc((size_t)n, sizeof(*recs));
	int *fds = calloc((size_t)n, sizeof(*fds));
	struct cthread *ct = calloc((size_t)k, sizeof(*ct));
	pthread_barrier_t bar;
	char go;

	who = "tcppeer: client";
	if (!recs || !fds || !ct)
		die("calloc");
	if (prctl(PR_SET_NAME, "tcppeer-cli") < 0)
		die("prctl(PR_SET_NAME)");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != server_pid)
		_exit(1);	/* server died before PDEATHSIG was armed */
	set_handler(SIGALRM, on_alarm);
	alarm((unsigned)opt.timeout);

	if (!read_all(ctl, &go, 1))
		_exit(1);	/* server went away before 'G' */
	if (go != 'G')
		fail("control protocol error");

	if (opt.burst)
		run_burst_clients(ctl, recs, fds, n);
	if (pthread_barrier_init(&bar, NULL, (unsigned)k))
		fail("pthread_barrier_init failed");
	for (int i = 0; i < k; i++) {
		ct[i].first = n * i / k;
		ct[i].n = n * (i + 1) / k - ct[i].first;
		ct[i].fds = fds;
		ct[i].recs = recs;
		ct[i].bar = &bar;
		errno = pthread_create(&ct[i].th, NULL, client_main, &ct[i]);
		if (errno)
			die("pthread_create");
	}
	for (int i = 0; i < k; i++)
		pthread_join(ct[i].th, NULL);

	if (opt.rst) {
		struct linger lg = { 1, 0 };

		send_byte(ctl, 'C');	/* all connected */
		expect_byte(ctl, 'R');	/* server saw them queued */
		for (long i = 0; i < n; i++) {
			if (setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg,
				       sizeof(lg)) < 0)
				die("setsockopt(SO_LINGER)");
			if (close(fds[i]) < 0)
				die("close");
		}
		write_all(ctl, recs, (size_t)n * sizeof(*recs));
		expect_byte(ctl, 'D');
	} else {
		write_all(ctl, recs, (size_t)n * sizeof(*recs));
		expect_byte(ctl, 'D');	/* server accepted everything */
		for (long i = 0; i < n; i++)
			if (close(fds[i]) < 0)
				die("close");
	}
	_exit(0);
}

/* ----------------------------------------------------------------- main */

static void usage(const char *fmt, const char *arg)
{
	if (fmt) {
		fprintf(stderr, "tcppeer: ");
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fprintf(stderr,
		"usage: tcppeer [--family 4|6|mapped] [--unix] [--port N] [--count N]\n"
		"               [--accept4] [--io-uring] [--rst] [--delay-accept MS]\n"
		"               [--wait] [--block-first] [--threads K]\n"
		"               [--client-threads K] [--comm NAME] [--timeout S] [--uid UID]\n"
		"               [--connect-interval MS] [--hold MS] [--proto tcp|mptcp|sctp]\n"
		"               [--client-proto tcp|mptcp|sctp|mixed] [--fastopen] [--stats]\n"
		"               [--backlog N] [--burst N] [--emfile K] [--eagain N]\n"
		"               [--wait-end] [--lazy-ack]\n"
		"       tcppeer --attachments PID\n");
	exit(EXIT_USAGE);
}

static int parse_proto(const char *name)
{
	if (!strcmp(name, "mixed"))
		return PROTO_MIXED;
	if (!strcmp(name, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(name, "mptcp"))
		return IPPROTO_MPTCP;
	if (!strcmp(name, "sctp"))
		return IPPROTO_SCTP;
	usage("invalid protocol '%s' (want tcp, mptcp or sctp)", name);
	return -1;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "family", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "accept4", no_argument, NULL, '4' },
		{ "rst", no_argument, NULL, 'r' },
		{ "delay-accept", required_argument, NULL, 'd' },
		{ "hold", required_argument, NULL, 'H' },
		{ "wait", no_argument, NULL, 'w' },
		{ "block-first", no_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "unix", no_argument, NULL, 'u' },
		{ "io-uring", no_argument, NULL, 'i' },
		{ "client-threads", required_argument, NULL, 'c' },
		{ "comm", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "uid", required_argument, NULL, 'U' },
		{ "connect-interval", required_argument, NULL, 'I' },
		{ "proto", required_argument, NULL, 'P' },
		{ "client-proto", required_argument, NULL, 'Q' },
		{ "fastopen", no_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 'S' },
		{ "backlog", required_argument, NULL, 'B' },
		{ "burst", required_argument, NULL, 'X' },
		{ "emfile", required_argument, NULL, 'E' },
		{ "eagain", required_argument, NULL, 'A' },
		{ "wait-end", no_argument, NULL, 'Z' },
		{ "lazy-ack", no_argument, NULL, 'L' },
		{ "attachments", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, unix_sock = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "4"))
				opt.fam = FAM_4;
			else if (!strcmp(optarg, "6"))
				opt.fam = FAM_6;
			else if (!strcmp(optarg, "mapped"))
				opt.fam = FAM_MAPPED;
			else
				usage("invalid --family '%s'", optarg);
			break;
		case 'p':
			opt.port = (unsigned)parse_num(optarg, 0, 65535, "--port");
			break;
		case 'n':
			opt.count = parse_num(optarg, 1, 1000000, "--count");
			break;
		case '4':
			opt.use_accept4 = 1;
			break;
		case 'r':
			opt.rst = 1;
			break;
		case 'd':
			opt.delay_ms = parse_num(optarg, 0, 600000,
						 "--delay-accept");
			break;
		case 'H':
			opt.hold_ms = parse_num(optarg, 1, 600000, "--hold");
			break;
		case 'w':
			opt.wait = 1;
			break;
		case 'b':
			opt.block_first = 1;
			break;
		case 't':
			opt.threads = (int)parse_num(optarg, 1, 1024,
						     "--threads");
			break;
		case 'u':
			unix_sock = 1;
			break;
		case 'i':
			opt.io_uring = 1;
			break;
		case 'c':
			opt.client_threads = (int)parse_num(optarg, 1, 1024,
							    "--client-threads");
			break;
		case 'C':
			if (unescape(optarg, opt.comm, sizeof(opt.comm)) < 0)
				usage("invalid escape in --comm '%s'", optarg);
			break;
		case 'T':
			opt.timeout = (int)parse_num(optarg, 1, 86400,
						     "--timeout");
			break;
		case 'U':
			opt.uid = parse_num(optarg, 0, 4294967294L, "--uid");
			break;
		case 'I':
			opt.connect_interval = parse_num(optarg, 0, 60000, "--connect-interval");
			break;
		case 'P':
			opt.proto = parse_proto(optarg);
			break;
		case 'Q':
			opt.client_proto = parse_proto(optarg);
			break;
		case 'F':
			opt.fastopen = 1;
			break;
		case 'S':
			opt.stats = 1;
			break;
		case 'B':
			opt.backlog = (int)parse_num(optarg, 1, 65535, "--backlog");
			break;
		case 'X':
			opt.burst = parse_num(optarg, 1, 60000, "--burst");
			break;
		case 'E':
			opt.emfile = parse_num(optarg, 1, 1000000, "--emfile");
			break;
		case 'A':
			opt.eagain = parse_num(optarg, 1, 1000000, "--eagain");
			break;
		case 'Z':
			opt.wait_end = 1;
			break;
		case 'L':
			opt.lazy_ack = 1;
			break;
		case 'a':
			opt.attachments = parse_num(optarg, 1, INT_MAX, "--attachments");
			break;
		case 'h':
			usage(NULL, NULL);
			break;
		case ':':
			usage("option '%s' needs an argument", argv[optind - 1]);
			break;
		default:
			usage("bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage("unexpected argument '%s'", argv[optind]);
	if (unix_sock)
		opt.fam = FAM_UNIX;
	if (opt.proto == PROTO_MIXED)
		usage("%s", "only --client-proto can be mixed");
	if (opt.client_proto == -1)
		opt.client_proto = opt.proto;
	if (unix_sock && (opt.proto || opt.client_proto))
		usage("%s", "--unix takes no --proto/--client-proto");
	if (opt.fastopen && (unix_sock || opt.proto == IPPROTO_SCTP))
		usage("%s", "--fastopen is for TCP and MPTCP");
	if (opt.client_threads > opt.count)
		opt.client_threads = (int)opt.count;
	if (opt.rst && opt.count > LISTEN_BACKLOG)
		usage("--rst needs --count <= %s (listen backlog)", "4096");
	if (opt.rst && opt.block_first)
		usage("%s", "--rst and --block-first are incompatible");
	if (opt.io_uring && (opt.threads > 1 || opt.block_first))
		usage("%s", "--io-uring cannot be combined with --threads/--block-first");
	/* The failure and burst modes have one accepting thread, which
	 * counts what it sees. */
	if ((opt.burst || opt.emfile || opt.eagain) &&
	    (opt.threads > 1 || opt.block_first || opt.rst))
		usage("%s", "--burst, --emfile and --eagain take no --threads/--block-first/--rst");
	if (opt.burst && (unix_sock || opt.fastopen))
		usage("%s", "--burst is for TCP and MPTCP without --fastopen");
	if (opt.burst && opt.burst < opt.count)
		usage("%s", "--burst needs at least --count clients");
	if (opt.lazy_ack && !opt.burst)
		usage("%s", "--lazy-ack needs --burst");
	if (opt.eagain && opt.io_uring)
		usage("%s", "--eagain is for accept() and accept4()");
}

/* --attachments: what each file descriptor of process @pid attaches a
 * BPF program to, as the kernel tells it (BPF_TASK_FD_QUERY, what
 * `bpftool perf` shows): tracepoints, raw tracepoints, kprobes and
 * kretprobes; fexit links are not perf events and are not listed. */
static const char *const fd_types[] = {
	[BPF_FD_TYPE_RAW_TRACEPOINT] = "raw_tracepoint", [BPF_FD_TYPE_TRACEPOINT] = "tracepoint",
	[BPF_FD_TYPE_KPROBE] = "kprobe", [BPF_FD_TYPE_KRETPROBE] = "kretprobe",
	[BPF_FD_TYPE_UPROBE] = "uprobe", [BPF_FD_TYPE_URETPROBE] = "uretprobe",
};

static void print_attachments(pid_t pid)
{
	char path[64], name[256];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		die("opendir(/proc/PID/fd)");
	while ((e = readdir(d))) {
		union bpf_attr attr;
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		memset(&attr, 0, sizeof(attr));
		attr.task_fd_query.pid = (__u32)pid;
		attr.task_fd_query.fd = (__u32)fd;
		attr.task_fd_query.buf = (__u64)(uintptr_t)name;
		attr.task_fd_query.buf_len = sizeof(name);
		name[0] = '\0';
		if (syscall(__NR_bpf, BPF_TASK_FD_QUERY, &attr, sizeof(attr)) < 0)
			continue;
		printf("ATTACHED fd=%d type=%s name=%s\n", fd,
		       attr.task_fd_query.fd_type < sizeof(fd_types) / sizeof(fd_types[0]) &&
		       fd_types[attr.task_fd_query.fd_type] ? fd_types[attr.task_fd_query.fd_type] : "?",
		       name[0] ? name : "-");
	}
	closedir(d);
	printf("DONE attachments\n");
}

int main(int argc, char **argv)
{
	struct worker *workers = NULL;
	struct record *recs;
	int sv[2], use_workers, nworkers;
	char comm[17] = "";
	pid_t pid;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opt.attachments) {
		print_attachments((pid_t)opt.attachments);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	set_handler(SIGALRM, on_alarm);
	alarm((unsigned)opt.timeout);

	if (opt.io_uring)
		uring_setup();	/* exits 77 when io_uring is unavailable */
	setup_listener();

	shared_accepted = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_accepted == MAP_FAILED)
		die("mmap(shared counter)");
	accs = calloc((size_t)opt.count, sizeof(*accs));
	recs = calloc((size_t)nclients(), sizeof(*recs));
	if (!accs || !recs)
		die("calloc");

	/* the client keeps all its connections open until the end */
	raise_nofile((rlim_t)nclients() + 64);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	set_handler(SIGCHLD, on_sigchld);
	fflush(NULL);
	server_pid = getpid();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		close(listen_fd);
		if (ring.fd >= 0)
			close(ring.fd);
		signal(SIGCHLD, SIG_DFL);
		run_client(sv[1]);
	}
	child_pid = pid;
	close(sv[1]);

	if (opt.uid >= 0) {
		/* The server accepts as that user (the tracer's UID column
		 * and -u filter); stay dumpable to read our own /proc. */
		if (setresgid((gid_t)opt.uid, (gid_t)opt.uid, (gid_t)opt.uid) < 0 ||
		    setresuid((uid_t)opt.uid, (uid_t)opt.uid, (uid_t)opt.uid) < 0)
			die("setresuid(--uid)");
		if (prctl(PR_SET_DUMPABLE, 1) < 0)
			die("prctl(PR_SET_DUMPABLE)");
	}
	if (prctl(PR_SET_NAME, opt.comm) < 0)
		die("prctl(PR_SET_NAME)");
	if (prctl(PR_GET_NAME, comm) < 0)
		die("prctl(PR_GET_NAME)");

	use_workers = opt.threads > 1 || opt.block_first;
	nworkers = use_workers ? opt.threads : 0;
	if (nworkers) {
		workers = calloc((size_t)nworkers, sizeof(*workers));
		if (!workers)
			die("calloc");
	}

	/* Start accepting (or, for --rst, wait until all were reset). */
	if (!opt.rst && nworkers) {
		for (int i = 0; i < nworkers; i++) {
			errno = pthread_create(&workers[i].th, NULL,
					       worker_main, &workers[i]);
			if (errno)
				die("pthread_create");
		}
		if (opt.block_first)
			wait_blocked(workers, nworkers);
	}

	if (opt.stats)
		read_stats(stats_before);
	printf("READY pid=%d port=%u\n", (int)getpid(), listen_port);
	fflush(stdout);
	if (opt.wait || opt.block_first)
		wait_stdin_line();
	if (opt.eagain)
		accept_until_eagain();
	send_byte(sv[0], 'G');

	if (opt.rst) {
		expect_byte(sv[0], 'C');
		if (opt.fam != FAM_UNIX)
			while (accept_queue_len() < opt.count)
				sleep_ms(1);
		send_byte(sv[0], 'R');
		if (!read_all(sv[0], recs, (size_t)opt.count * sizeof(*recs)))
			fail("client closed the control socket");
		sleep_ms(20);	/* let loopback deliver the last RSTs */
		for (int i = 0; i < nworkers; i++) {
			errno = pthread_create(&workers[i].th, NULL,
					       worker_main, &workers[i]);
			if (errno)
				die("pthread_create");
		}
	}

	if (nworkers) {
		for (int i = 0; i < nworkers; i++)
			pthread_join(workers[i].th, NULL);
	} else {
		pid_t tid = my_tid();

		if (opt.emfile)
			accept_at_emfile();
		if (opt.lazy_ack)
			expect_byte(sv[0], 'C');	/* the clients are in place */
		for (long s = 0; s < opt.count; s++)
			accept_one(tid, comm);
		if (opt.burst)
			burst_stop(sv[0], recs);
	}

	if (!opt.rst && !opt.burst &&
	    !read_all(sv[0], recs, (size_t)opt.count * sizeof(*recs)))
		fail("client closed the control socket");
	send_byte(sv[0], 'D');

	/* Wait for the client to finish (SIGCHLD handler may reap it). */
	while (!child_reaped) {
		int st;
		pid_t r = waitpid(pid, &st, 0);

		if (r == pid) {
			child_status = st;
			child_reaped = 1;
		} else if (r < 0 && errno != EINTR && errno != ECHILD) {
			die("waitpid");
		}
	}
	if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0)
		fail("client process failed");

	match(recs, nclients(), opt.count);
	for (long s = 0; s < opt.count; s++) {
		struct accepted *ac = &accs[s];
		struct record *rc = &recs[ac->rec];
		char ecomm[17 * 4 + 1];

		rc->accepted = 1;
		escape_bytes((const unsigned char *)ac->comm, strlen(ac->comm),
			     ecomm, sizeof(ecomm));
		printf("ACCEPT pid=%d tid=%d comm=%s ip=%s raddr=%s rport=%u laddr=%s lport=%u uid=%u proto=%s",
		       (int)getpid(), (int)ac->tid, ecomm,
		       opt.fam == FAM_4 ? "4" : opt.fam == FAM_UNIX ? "unix" : "6",
		       rc->raddr, rc->rport, rc->laddr, rc->lport, (unsigned)getuid(),
		       proto_name(ac->proto));
		print_wait_bounds(ac, rc);
		putchar('\n');
	}
	for (long i = 0; opt.burst && i < nclients(); i++)
		printf("CLIENT raddr=%s rport=%u laddr=%s lport=%u connected=%d error=%d accepted=%d\n",
		       recs[i].raddr, recs[i].rport, recs[i].laddr, recs[i].lport,
		       recs[i].error == 0, recs[i].error, recs[i].accepted);
	{
		char ecomm[17 * 4 + 1];

		escape_bytes((const unsigned char *)comm, strlen(comm), ecomm, sizeof(ecomm));
		print_failures(my_tid(), ecomm);
	}
	if (opt.stats) {
		wait_no_requests();
		flush_loopback();
		print_stats();
		print_listener();
	}
	printf("DONE accepted=%ld\n", opt.count);
	if (fflush(stdout) == EOF)
		die("fflush(stdout)");
	/* The listener is still open: `ss -tlm` can read its counter. */
	if (opt.wait_end)
		wait_stdin_line();
	return 0;
}
