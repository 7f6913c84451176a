// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "format.h"
#include "log.h"
#include "output.h"

static struct output {
	char buf[256 * 1024];	/* several FMT_LINE_MAX */
	size_t len;
	int fd;
	bool closed;		/* the reader went away (EPIPE) */
	bool failed;
} out = { .fd = STDOUT_FILENO };

/* Lines are only ever written whole, so a rotation between two writes
 * puts each in exactly one file. */
int output_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		warn("failed to open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	output_close();
	out.fd = fd;
	return 0;
}

void output_close(void)
{
	if (out.fd != STDOUT_FILENO)
		close(out.fd);
	out.fd = STDOUT_FILENO;
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

void output_append(const char *data, size_t len)
{
	while (len && !out.closed && !out.failed) {
		size_t room = sizeof(out.buf) - out.len, n = len < room ? len : room;

		memcpy(out.buf + out.len, data, n);
		out.len += n;
		data += n;
		len -= n;
		if (out.len == sizeof(out.buf))
			output_flush();
	}
}

int output_flush(void)
{
	size_t done = 0;

	while (done < out.len && !out.closed && !out.failed) {
		ssize_t n = write(out.fd, out.buf + done, out.len - done);

		if (n >= 0) {
			done += (size_t)n;
		} else if (errno == EPIPE) {
			out.closed = true;
		} else if (errno != EINTR) {
			warn("failed to write output: %s\n", strerror(errno));
			out.failed = true;
		}
	}
	out.len = 0;
	return out.closed ? -EPIPE : out.failed ? -EIO : 0;
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
