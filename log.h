/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Messages to stderr, each after "tcpaccept: ". */
#ifndef TCPACCEPT_LOG_H
#define TCPACCEPT_LOG_H

#include <stdbool.h>

/* -v: say what was chosen and why, and what went wrong on the way. */
extern bool verbose;

/* A number as a string literal, for messages: STR(COUNT_MAX_ENTRIES). */
#define STR_(x) #x
#define STR(x) STR_(x)

__attribute__((format(printf, 1, 2)))
void warn(const char *fmt, ...);

#endif /* TCPACCEPT_LOG_H */
