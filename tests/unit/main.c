// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: the runner: every TEST() in the unit_tests section, or those named on the command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"

int unit_passed, unit_failed;

int parse(struct config *cfg, char *err, size_t errlen, const char **args)
{
	char *argv[32] = { "tcpaccept" };
	int argc = 1, saved, rc;
	FILE *tmp = tmpfile();
	size_t n;

	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	rc = args_parse(argc, argv, cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

void make_event(struct event *e, int family, const char *raddr, __u16 rport,
		       const char *laddr, __u16 lport, const char *comm, __u64 ts_ns)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = ts_ns;
	e->pid = 1234;
	e->tid = 1235;
	e->family = (__u16)family;
	e->rport = rport;
	e->lport = lport;
	inet_pton(family, raddr, e->raddr);
	inet_pton(family, laddr, e->laddr);
	memcpy(e->comm, comm, strnlen(comm, sizeof(e->comm)));
}

/* The linker's bounds of the unit_tests section that TEST() fills. */
extern const struct unit_test __start_unit_tests[], __stop_unit_tests[];

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strncmp(name, argv[i], strlen(argv[i])))
			return true;
	return false;
}

/* unit_tests [PREFIX...]: the tests whose names start with a PREFIX, or all. */
int main(int argc, char **argv)
{
	int ran = 0;

	for (const struct unit_test *t = __start_unit_tests; t < __stop_unit_tests; t++) {
		if (!selected(t->name, argc, argv))
			continue;
		t->fn();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "unit: no test matches\n");
		return 1;
	}
	printf("unit: %d passed, %d failed (%d tests)\n", unit_passed, unit_failed, ran);
	return unit_failed ? 1 : 0;
}
