/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What the unit tests share: CHECK(), TEST() and the helpers in main.c.
 * A test is TEST(name) { ... } in any tests/unit/test_*.c; TEST() puts it
 * in the unit_tests section, which main() runs: there is no list to keep. */
#ifndef TCPACCEPT_UNIT_H
#define TCPACCEPT_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "args.h"
#include "format.h"
#include "metrics.h"

extern int unit_passed, unit_failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			unit_passed++;                                         \
		} else {                                                       \
			unit_failed++;                                         \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(name)                                                             \
	static void test_##name(void);                                         \
	static const struct unit_test unit_##name                              \
		__attribute__((used, section("unit_tests"), aligned(8))) =     \
		{ #name, test_##name };                                        \
	static void test_##name(void)

/* Runs args_parse() on a NULL-terminated argument list, capturing what it
 * writes to stderr in @err. */
int parse(struct config *cfg, char *err, size_t errlen, const char **args);

#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })
#define TRY_HELP "Try 'tcpaccept --help' for more information.\n"

/* An accept event with pid 1234, tid 1235 and the given fields. */
void make_event(struct event *e, int family, const char *raddr, __u16 rport,
		const char *laddr, __u16 lport, const char *comm, __u64 ts_ns);

#endif /* TCPACCEPT_UNIT_H */
