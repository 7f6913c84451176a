// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include "service.h"

/* One path component: @n bytes at @p, no '/'. */
struct part {
	const char *p;
	size_t n;
};

/* The component after @s (which may point at '/'s), or one of length 0. */
static struct part next_part(const char *s)
{
	s += strspn(s, "/");
	return (struct part){ s, strcspn(s, "/") };
}

/* The component that ends before @end, not before @start; length 0 if none. */
static struct part prev_part(const char *start, const char *end)
{
	const char *b;

	while (end > start && end[-1] == '/')
		end--;
	for (b = end; b > start && b[-1] != '/'; b--)
		;
	return (struct part){ b, (size_t)(end - b) };
}

static bool has_prefix(struct part c, const char *prefix)
{
	size_t n = strlen(prefix);

	return c.n >= n && !memcmp(c.p, prefix, n);
}

static bool has_suffix(struct part c, const char *suffix)
{
	size_t n = strlen(suffix);

	return c.n >= n && !memcmp(c.p + c.n - n, suffix, n);
}

static bool is_part(struct part c, const char *name)
{
	return c.n == strlen(name) && !memcmp(c.p, name, c.n);
}

static bool all_of(const char *p, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!p[i] || !strchr(set, p[i]))
			return false;
	return true;
}

#define HEX "0123456789abcdef"

/* @c is PREFIX, CONTAINER_ID_LEN hex digits, SUFFIX: the digits, or NULL. */
static const char *id_between(struct part c, const char *prefix, const char *suffix)
{
	size_t pn = strlen(prefix), sn = strlen(suffix);

	if (c.n != pn + CONTAINER_ID_LEN + sn || !has_prefix(c, prefix) || !has_suffix(c, suffix))
		return NULL;
	return all_of(c.p + pn, CONTAINER_ID_LEN, HEX) ? c.p + pn : NULL;
}

/* --- systemd units ---------------------------------------------------------- */

/* The unit types that own a cgroup (systemd's cgroup_context_offset). */
static const char *const cgroup_unit_suffixes[] = {
	".service", ".scope", ".slice", ".socket", ".mount", ".swap",
};

/* What systemd's unit_name_is_valid() allows, for the types with a cgroup:
 * a name before the suffix of [A-Za-z0-9:_.\\-] and at most one '@' (a
 * template's instance). */
static bool unit_name_valid(struct part c)
{
	size_t stem = 0;
	const char *at;

	if (c.n >= UNIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < sizeof(cgroup_unit_suffixes) / sizeof(*cgroup_unit_suffixes); i++)
		if (has_suffix(c, cgroup_unit_suffixes[i]))
			stem = c.n - strlen(cgroup_unit_suffixes[i]);
	if (!stem || !all_of(c.p, stem, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			     "0123456789:_.\\-@"))
		return false;
	at = memchr(c.p, '@', stem);
	return !at || (at > c.p && !memchr(at + 1, '@', stem - (size_t)(at + 1 - c.p)));
}

static bool is_slice(struct part c)
{
	return has_suffix(c, ".slice") && unit_name_valid(c);
}

/* The first component at or after @s that is not a slice. */
static struct part skip_slices(const char **s)
{
	struct part c;

	for (c = next_part(*s); c.n && is_slice(c); c = next_part(*s))
		*s = c.p + c.n;
	return c;
}

/* user@UID.service: a user's service manager, whose units are the user's. */
static bool is_user_manager(struct part c)
{
	return c.n > strlen("user@.service") && has_prefix(c, "user@") &&
	       has_suffix(c, ".service") &&
	       all_of(c.p + 5, c.n - strlen("user@.service"), "0123456789");
}

static void copy_part(char *out, size_t size, struct part c)
{
	size_t n = c.n < size - 1 ? c.n : size - 1;

	memcpy(out, c.p, n);
	out[n] = '\0';
}

/* systemd's reading (cg_path_get_unit(), cg_path_get_user_unit()): slices
 * are skipped, the first other component is the unit if it is a valid
 * name of a type with a cgroup; under user@UID.service the same again
 * gives the user's unit (the manager itself if there is none). */
static void unit_of(const char *path, char unit[UNIT_NAME_MAX])
{
	const char *s = path;
	struct part c = skip_slices(&s), user;

	unit[0] = '\0';
	if (!c.n || !unit_name_valid(c))
		return;
	if (is_user_manager(c)) {
		s = c.p + c.n;
		user = skip_slices(&s);
		if (user.n && unit_name_valid(user))
			c = user;
	}
	copy_part(unit, UNIT_NAME_MAX, c);
}

/* --- containers ------------------------------------------------------------- */

/* The ID in @c and its runtime, given its parent component @parent (length
 * 0 at the top); NULL if @c is no container's cgroup. The conmon scopes
 * (libpod-conmon-ID.scope, crio-conmon-ID.scope) hold the runtime's
 * monitor, not the container: "conmon-" fails the hex test. */
static const char *container_of(struct part c, struct part parent, enum container_runtime *rt)
{
	static const struct {
		const char *prefix, *suffix;
		enum container_runtime rt;
	} named[] = {
		{ "docker-", ".scope", RUNTIME_DOCKER },		/* systemd driver */
		{ "libpod-", ".scope", RUNTIME_PODMAN },
		{ "libpod-", "", RUNTIME_PODMAN },		/* /libpod_parent/libpod-ID */
		{ "cri-containerd-", ".scope", RUNTIME_CONTAINERD },
		{ "crio-", ".scope", RUNTIME_CRIO },
		{ "crio-", "", RUNTIME_CRIO },			/* cgroupfs driver */
	};
	const char *id;

	for (size_t i = 0; i < sizeof(named) / sizeof(*named); i++) {
		id = id_between(c, named[i].prefix, named[i].suffix);
		if (id) {
			*rt = named[i].rt;
			return id;
		}
	}
	/* cgroupfs drivers: bare IDs, where Docker (/docker/ID) and the
	 * kubelet (/kubepods/[QOS/]podUID/ID) put them. */
	id = id_between(c, "", "");
	if (!id)
		return NULL;
	if (is_part(parent, "docker"))
		*rt = RUNTIME_DOCKER;
	else if (has_prefix(parent, "pod") && parent.n == 3 + POD_UID_LEN)
		*rt = RUNTIME_CRI;
	else
		return NULL;
	return id;
}

/* A pod's cgroup: podUID (cgroupfs driver) or
 * [PREFIX-]kubepods[-QOS]-podUID.slice with the UID's dashes as '_'
 * (systemd driver; kind's kubelet adds "kubelet-"). */
static bool pod_uid_of(struct part c, char out[POD_UID_LEN + 1])
{
	const char *uid = NULL;
	char sep = '-';

	if (c.n == 3 + POD_UID_LEN && has_prefix(c, "pod")) {
		uid = c.p + 3;
	} else if (c.n > 4 + POD_UID_LEN + 6 && has_suffix(c, ".slice") &&
		   !memcmp(c.p + c.n - 6 - POD_UID_LEN - 4, "-pod", 4) &&
		   memmem(c.p, c.n, "kubepods", 8)) {
		uid = c.p + c.n - 6 - POD_UID_LEN;
		sep = '_';
	}
	if (!uid)
		return false;
	for (int i = 0; i < POD_UID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != sep : !uid[i] || !strchr(HEX, uid[i]))
			return false;
		out[i] = dash ? '-' : uid[i];
	}
	out[POD_UID_LEN] = '\0';
	return true;
}

/* The innermost container wins: in kind or Docker-in-Docker the outer one
 * is the node or the engine's host, the inner one the workload that
 * accepted, the one its own engine lists (an outer --container still
 * matches it: the filter checks ancestors). */
static void container_in(const char *path, struct service *s)
{
	const char *end = path + strlen(path), *id;
	struct part c = prev_part(path, end), parent;

	for (; c.n; c = parent) {
		parent = prev_part(path, c.p);
		id = container_of(c, parent, &s->runtime);
		if (id) {
			memcpy(s->container, id, CONTAINER_ID_LEN);
			s->container[CONTAINER_ID_LEN] = '\0';
			if (!pod_uid_of(parent, s->pod_uid))
				s->pod_uid[0] = '\0';
			return;
		}
	}
}

void service_of_cgroup(const char *path, struct service *s)
{
	memset(s, 0, sizeof(*s));
	unit_of(path, s->unit);
	container_in(path, s);
}

#define RUNTIME_NAME(id, name) [id] = name,
static const char *const runtime_names[] = { FOR_EACH_RUNTIME(RUNTIME_NAME) };
#undef RUNTIME_NAME

const char *service_runtime_name(enum container_runtime rt)
{
	if ((size_t)rt >= sizeof(runtime_names) / sizeof(*runtime_names))
		return "";
	return runtime_names[rt];
}

const char *service_label(const struct service *s, const char *path, char *buf, size_t size)
{
	if (s->container[0])
		snprintf(buf, size, "%.*s", CONTAINER_SHORT_LEN, s->container);
	else
		snprintf(buf, size, "%s", s->unit[0] ? s->unit : path);
	return buf;
}

bool service_container_prefix_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= CONTAINER_ID_LEN && all_of(s, n, HEX);
}
