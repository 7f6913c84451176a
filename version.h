/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#ifndef TCPACCEPT_VERSION_H
#define TCPACCEPT_VERSION_H

#include <bpf/libbpf_version.h>

#define TCPACCEPT_VERSION "0.1.0"

#define TCPACCEPT_STR_(x) #x
#define TCPACCEPT_STR(x) TCPACCEPT_STR_(x)
/* The libbpf this binary was built with (and runs, unless built with STATIC=0). */
#define TCPACCEPT_LIBBPF_VERSION \
	TCPACCEPT_STR(LIBBPF_MAJOR_VERSION) "." TCPACCEPT_STR(LIBBPF_MINOR_VERSION)

#endif /* TCPACCEPT_VERSION_H */
