// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

bool verbose;

void warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcpaccept: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
