/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Which service a cgroup v2 path names: the systemd unit, the container
 * (ID and runtime) and the Kubernetes pod. Pure code, no I/O, unit-tested. */
#ifndef TCPACCEPT_SERVICE_H
#define TCPACCEPT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_ID_LEN 64	/* hex digits of a full container ID */
#define CONTAINER_SHORT_LEN 12	/* what `docker ps` shows */
#define POD_UID_LEN 36		/* 8-4-4-4-12 */
#define UNIT_NAME_MAX 256	/* systemd's UNIT_NAME_MAX, with the NUL */

/* X(enum, name): the runtimes a container cgroup's name says. */
#define FOR_EACH_RUNTIME(X)			\
	X(RUNTIME_NONE, "")			\
	X(RUNTIME_DOCKER, "docker")		\
	X(RUNTIME_PODMAN, "podman")		\
	X(RUNTIME_CONTAINERD, "containerd")	\
	X(RUNTIME_CRIO, "cri-o")		\
	/* A bare ID in a kubepods pod (cgroupfs driver): some CRI runtime. */ \
	X(RUNTIME_CRI, "cri")

#define RUNTIME_ENUM(id, name) id,
enum container_runtime {
	FOR_EACH_RUNTIME(RUNTIME_ENUM)
};
#undef RUNTIME_ENUM

struct service {
	/* The host's systemd unit, as systemd itself reads the path
	 * (cg_path_get_unit(): the first non-slice component after the
	 * leading slices), or under user@UID.service the user's unit
	 * (cg_path_get_user_unit()); "" if the path names none. */
	char unit[UNIT_NAME_MAX];
	/* The innermost container's full ID, lowercase hex; "" if none. */
	char container[CONTAINER_ID_LEN + 1];
	enum container_runtime runtime;
	/* The Kubernetes pod holding that container, with dashes (the
	 * systemd driver writes them as '_'); "" if none. */
	char pod_uid[POD_UID_LEN + 1];
};

/* Reads @path, a cgroup v2 path as the "0::" line of /proc/PID/cgroup
 * shows it ("/system.slice/nginx.service"), into @s. Never fails: what the
 * path does not name is left empty. */
void service_of_cgroup(const char *path, struct service *s);

/* The runtime's name ("docker", ...; "" for RUNTIME_NONE). */
const char *service_runtime_name(enum container_runtime rt);

/* The one word that names the service, for a column: the container ID's
 * first CONTAINER_SHORT_LEN digits, else the unit, else @path. */
const char *service_label(const struct service *s, const char *path, char *buf, size_t size);

/* True if @s is 1 to CONTAINER_ID_LEN lowercase hex digits: a container
 * ID or a prefix of one, as --container takes it. */
bool service_container_prefix_valid(const char *s);

#endif /* TCPACCEPT_SERVICE_H */
