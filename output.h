/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Where rows and tables go (stdout, or the -o file), through one buffer
 * that is written out whole lines at a time. */
#ifndef TCPACCEPT_OUTPUT_H
#define TCPACCEPT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* -o: opens @path for appending in place of stdout; 0 or -1 (said). Only
 * a regular file with one link, never through a symbolic link, not another
 * user's in a sticky directory, and only where tcpaccept could create it
 * again without its capabilities. Later calls (SIGHUP) open the file of
 * that name in the directory found at the first, with the same checks;
 * if they fail, the file open so far stays. */
int output_open(const char *path);
/* Back to stdout; the -o directory closed. */
void output_close(void);

/* The free end of the buffer, *@room bytes, as it is. */
char *output_tail(size_t *room);
/* The same, after writing out the buffer if less than a line
 * (FMT_LINE_MAX) is free. */
char *output_reserve(size_t *room);
/* @n bytes were written at the tail. */
void output_commit(size_t n);
/* Appends @len bytes, writing out the buffer as it fills. */
void output_append(const char *data, size_t len);

/* Writes out the buffer. 0; -EPIPE once the reader went away
 * (`tcpaccept | head -1`: it is done, so are we); -EIO once a write
 * failed (said). Either way the buffer is emptied and tracing should stop. */
int output_flush(void);
/* SIGINT or SIGTERM came (async-signal-safe: called from the handler).
 * From now on the output gets half a second to take what is buffered, even
 * a write() already blocked; what it does not take is dropped and counted,
 * so that tracing ends and detaches whatever the reader does. */
void output_stop(void);
/* Rows that could not be written (dropped at a stop, or for want of disk
 * space), like lost events: "could not write N rows (why)" on stderr for
 * those since the last report; @at_exit, also the total. */
void output_report_unwritten(bool at_exit);
__u64 output_unwritten(void);
bool output_closed(void);
bool output_failed(void);
/* Something else that the exit status reports failed (--metrics at exit). */
void output_set_failed(void);

#endif /* TCPACCEPT_OUTPUT_H */
