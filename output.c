// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/types.h>
#include "capabilities.h"
#include "clocks.h"
#include "format.h"
#include "log.h"
#include "output.h"

enum { FD_REGULAR = 1, FD_OTHER };

static struct output {
	char buf[256 * 1024];	/* several FMT_LINE_MAX */
	size_t len;
	int fd;
	bool closed;		/* the reader went away (EPIPE) */
	bool failed;
	/* -o: its directory, opened once at start, the file's name in it,
	 * and the path as given (for messages). */
	int dirfd;
	char name[NAME_MAX + 1];
	const char *path;
	int kind;		/* fd: 0 not known yet, FD_REGULAR, FD_OTHER */
	volatile sig_atomic_t stopping;	/* SIGINT/SIGTERM came: output_stop() */
	__u64 stop_deadline_ns;	/* then, the end of the grace */
	__u64 unwritten;	/* rows (lines) that could not be written */
	__u64 unwritten_reported;
	int unwritten_err;	/* why the last were not: errno, 0 the stop */
} out = { .fd = STDOUT_FILENO, .dirfd = -1 };

/* --- -o: opening the file, at start and on SIGHUP --------------------------- */

/* What fs.protected_regular (=2) refuses: in a sticky directory that others
 * may write to, a file that neither we nor the directory's owner own, which
 * anyone could have put there for us to fill. */
static bool foreign_in_sticky(const struct stat *dir, const struct stat *file)
{
	return (dir->st_mode & S_ISVTX) && (dir->st_mode & (S_IWOTH | S_IWGRP)) &&
	       file->st_uid != geteuid() && file->st_uid != dir->st_uid;
}

/* Why the file just opened as @fd must not be written (NULL: it may), in
 * @why. */
static const char *refusal(int fd, char *why, size_t len)
{
	struct stat st, dir;

	if (fstat(fd, &st) || fstat(out.dirfd, &dir))
		snprintf(why, len, "failed to stat it: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, len, "it is not a regular file");
	else if (st.st_nlink != 1)
		snprintf(why, len, "it has %lu hard links: another name could be any file",
			 (unsigned long)st.st_nlink);
	else if (foreign_in_sticky(&dir, &st))
		snprintf(why, len, "it belongs to uid %u, in a sticky directory others can write to (what fs.protected_regular refuses)",
			 (unsigned)st.st_uid);
	else
		return NULL;
	return why;
}

/* Opens out.name in out.dirfd for appending, or says why not: never
 * through a symbolic link, never anything but a regular file with one
 * link. O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead
 * of blocking open(); one with a reader is refused after fstat(). */
static int open_checked(void)
{
	char why[192];
	struct stat st;
	int fd = openat(out.dirfd, out.name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
			O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644), err = errno;

	/* O_NOFOLLOW says ELOOP, a FIFO without a reader ENXIO; in a sticky
	 * directory the kernel may say EACCES first for another's symlink. */
	if (fd < 0 && fstatat(out.dirfd, out.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode))
		snprintf(why, sizeof(why), "%s", S_ISLNK(st.st_mode) ?
			 "it is a symbolic link (-o never follows one)" :
			 "it is not a regular file");
	else if (fd < 0) {
		warn("failed to open '%s': %s\n", out.path, strerror(err));
		return -1;
	}
	if (fd < 0 || refusal(fd, why, sizeof(why))) {
		warn("refused -o '%s': %s\n", out.path, why);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_APPEND);	/* blocking writes again */
	return fd;
}

/* out.dirfd and out.name from @path: the directory is looked up once, so
 * a later SIGHUP opens the file where it was at start. */
static int open_dir(const char *path)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	/* "x" is in ".", "/x" in "/", "a/b/x" in "a/b". */
	size_t dir_len = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
	char dir[PATH_MAX] = ".";

	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		warn("failed to open '%s': %s\n", path, strerror(EISDIR));
		return -1;
	}
	if (strlen(name) > NAME_MAX || dir_len >= sizeof(dir)) {
		warn("failed to open '%s': %s\n", path, strerror(ENAMETOOLONG));
		return -1;
	}
	if (dir_len)
		snprintf(dir, sizeof(dir), "%.*s", (int)dir_len, path);
	out.dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (out.dirfd < 0) {
		warn("failed to open the directory of '%s': %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(out.name, sizeof(out.name), "%s", name);
	out.path = path;
	return 0;
}

/* Run without capabilities: 0 if @arg (the file, or with NULL its
 * directory) is writable, else errno. A SIGHUP needs both: logrotate
 * renames the file, then tcpaccept creates it again (or opens the one
 * logrotate's `create` made). */
static int writable(void *arg)
{
	int r = arg ? faccessat(out.dirfd, out.name, W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW)
		    : faccessat(out.dirfd, ".", W_OK | X_OK, AT_EACCESS);

	return r ? errno : 0;
}

/* Once tracing, tcpaccept has no capabilities (caps_drop()): a
 * directory or file that only CAP_DAC_OVERRIDE lets it write is refused at
 * start, not found out at the first rotation. @file: the file, else its
 * directory. */
static int check_reopenable(bool file)
{
	int r = caps_without(writable, file ? out.name : NULL);

	if (r > 0)
		warn("refused -o '%s': once tracing, without capabilities, uid %u could not %s on SIGHUP (log rotation): %s\n",
		     out.path, (unsigned)geteuid(),
		     file ? "write the file" : "create the file in its directory", strerror(r));
	else if (r < 0)
		warn("failed to check -o '%s' without capabilities: %s\n", out.path, strerror(-r));
	return r ? -1 : 0;
}

/* Lines are only ever written whole, so a rotation between two writes
 * puts each in exactly one file. */
int output_open(const char *path)
{
	bool first = out.dirfd < 0;
	int fd;

	if (first && (open_dir(path) || check_reopenable(false)))
		return -1;
	fd = open_checked();
	if (fd >= 0 && first && check_reopenable(true)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return -1;
	if (out.fd != STDOUT_FILENO)
		close(out.fd);
	out.fd = fd;
	out.kind = 0;
	return 0;
}

void output_close(void)
{
	if (out.fd != STDOUT_FILENO)
		close(out.fd);
	out.fd = STDOUT_FILENO;
	out.kind = 0;
	if (out.dirfd >= 0)
		close(out.dirfd);
	out.dirfd = -1;
}

char *output_tail(size_t *room)
{
	*room = sizeof(out.buf) - out.len;
	return out.buf + out.len;
}

char *output_reserve(size_t *room)
{
	if (sizeof(out.buf) - out.len < FMT_LINE_MAX)
		output_flush();
	return output_tail(room);
}

void output_commit(size_t n)
{
	out.len += n;
}

/* The buffer is only written out at the end of a line, so that what a
 * failed write leaves can be cut back to whole lines. */
void output_append(const char *data, size_t len)
{
	while (len && !out.closed && !out.failed) {
		size_t room = sizeof(out.buf) - out.len, n = len;

		if (len > room) {
			const char *nl = memrchr(data, '\n', room);

			/* The whole lines that fit; a line longer than the
			 * buffer, cut. */
			n = nl ? (size_t)(nl - data) + 1 : out.len ? 0 : room;
		}
		memcpy(out.buf + out.len, data, n);
		out.len += n;
		data += n;
		len -= n;
		if (len)
			output_flush();
	}
}

/* --- writing out ---------------------------------------------------------- */

/* After SIGINT or SIGTERM the output gets this long to take what is
 * buffered; then what it did not take is dropped (and counted), so that
 * tracing ends and detaches whatever the reader does. */
#define STOP_GRACE_MS 500

static void on_alarm(int sig)
{
	(void)sig;	/* only there to interrupt a blocked write() */
}

void output_stop(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval grace = { .it_value = { .tv_usec = STOP_GRACE_MS * 1000 } };

	out.stopping = 1;
	/* A write() that blocks from here on, even one entered just before
	 * out.stopping was set, returns EINTR when the grace ends. */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &grace, NULL);
}

/* Whether out.fd is a regular file (-o, or stdout redirected to one). */
static bool fd_regular(void)
{
	struct stat st;

	if (!out.kind)
		out.kind = fstat(out.fd, &st) == 0 && S_ISREG(st.st_mode) ? FD_REGULAR : FD_OTHER;
	return out.kind == FD_REGULAR;
}

/* Once stopping: whether out.fd takes more within the grace (a pipe then
 * takes PIPE_BUF bytes without blocking). */
static bool writable_in_grace(void)
{
	struct pollfd p = { .fd = out.fd, .events = POLLOUT };
	__u64 now = monotonic_ns();
	long left;

	if (!out.stop_deadline_ns)
		out.stop_deadline_ns = now + STOP_GRACE_MS * 1000000ULL;
	left = now < out.stop_deadline_ns ? (long)((out.stop_deadline_ns - now) / 1000000) : 0;
	return poll(&p, 1, (int)left) == 1;
}

/* Lines out.buf[@from, out.len) will never be written: counted as rows
 * that could not be written, because of @err (0: the stop), as lost events
 * are. */
static void drop_unwritten(size_t from, int err)
{
	for (size_t i = from; i < out.len; i++)
		out.unwritten += out.buf[i] == '\n';
	out.unwritten_err = err;
}

/* A write to the regular file failed after the first @done bytes of the
 * buffer: the part of a line among them is cut off the file again, so it
 * holds whole lines only. Returns where the unwritten lines start. */
static size_t cut_to_whole_lines(size_t done)
{
	const char *nl = done ? memrchr(out.buf, '\n', done) : NULL;
	size_t keep = nl ? (size_t)(nl - out.buf) + 1 : 0;
	off_t end = keep < done ? lseek(out.fd, 0, SEEK_CUR) : 0;

	/* They end where the file offset is now (with O_APPEND too): cut
	 * there, and write on from there (a stdout without O_APPEND). */
	if (keep < done && (end < (off_t)(done - keep) ||
			    ftruncate(out.fd, end - (off_t)(done - keep)) ||
			    lseek(out.fd, end - (off_t)(done - keep), SEEK_SET) < 0))
		warn("failed to cut a partly written row off the output: %s\n", strerror(errno));
	return keep;
}

/* The disk or quota is full: a regular file takes rows again once there
 * is room, so tracing goes on (a device like /dev/full never will). */
static bool out_of_space(int err)
{
	return (err == ENOSPC || err == EDQUOT) && fd_regular();
}

int output_flush(void)
{
	size_t done = 0;

	while (done < out.len && !out.closed && !out.failed) {
		size_t len = out.len - done;
		ssize_t n;

		if (out.stopping) {
			if (!writable_in_grace()) {
				drop_unwritten(done, 0);
				break;
			}
			if (!fd_regular() && len > PIPE_BUF)
				len = PIPE_BUF;
		}
		n = write(out.fd, out.buf + done, len);
		if (n >= 0) {
			done += (size_t)n;
		} else if (errno == EPIPE) {
			out.closed = true;
		} else if (out_of_space(errno)) {
			int err = errno;

			drop_unwritten(cut_to_whole_lines(done), err);
			break;
		} else if (errno == EAGAIN) {
			/* An O_NONBLOCK stdout: wait as a blocking one would. */
			struct pollfd p = { .fd = out.fd, .events = POLLOUT };

			poll(&p, 1, -1);
		} else if (errno != EINTR) {
			warn("failed to write output: %s\n", strerror(errno));
			out.failed = true;
		}
	}
	out.len = 0;
	return out.closed ? -EPIPE : out.failed ? -EIO : 0;
}

void output_report_unwritten(bool at_exit)
{
	if (out.unwritten != out.unwritten_reported)
		warn("could not write %llu rows (%s)\n",
		     (unsigned long long)(out.unwritten - out.unwritten_reported),
		     out.unwritten_err ? strerror(out.unwritten_err) :
		     "the output took no more after the signal");
	out.unwritten_reported = out.unwritten;
	if (at_exit && out.unwritten)
		warn("could not write %llu rows in total\n", (unsigned long long)out.unwritten);
}

__u64 output_unwritten(void)
{
	return out.unwritten;
}

bool output_closed(void)
{
	return out.closed;
}

bool output_failed(void)
{
	return out.failed;
}

void output_set_failed(void)
{
	out.failed = true;
}
