// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/vfs.h>
#include "cgroup.h"
#include "log.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

/* mountinfo writes ' ', '\t', '\n' and '\\' in a path as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		unsigned int c;

		if (s[0] == '\\' && sscanf(s + 1, "%3o", &c) == 1 && strspn(s + 1, "01234567") >= 3) {
			*out++ = (char)c;
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* A mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] -
 * FSTYPE SOURCE SUPER_OPTIONS (proc(5)). True if it is a cgroup2 mount;
 * its ROOT and MOUNTPOINT, unescaped, in @root and @point (PATH_MAX). */
static bool cgroup2_line(const char *line, char *root, char *point)
{
	const char *sep = strstr(line, " - ");
	char fstype[64];

	if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") ||
	    sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2)
		return false;
	unescape(root);
	unescape(point);
	return true;
}

void cgroup_v2_mounts(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2 * PATH_MAX + 256], root[PATH_MAX], point[PATH_MAX];
	size_t len = 0;

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!cgroup2_line(line, root, point))
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", point);
		if (len >= size) {
			len = size - 1;
			break;
		}
	}
	fclose(f);
}

int cgroup_open(const char *path)
{
	struct statfs st;
	char where[512];
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		warn("failed to open cgroup '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &st) == 0 && (unsigned long)st.f_type == CGROUP2_SUPER_MAGIC)
		return fd;
	close(fd);
	/* A hybrid host has v1 at /sys/fs/cgroup and v2 elsewhere. */
	cgroup_v2_mounts(where, sizeof(where));
	if (where[0])
		warn("'%s' is not a cgroup v2 directory; cgroup v2 is mounted at %s on this host\n",
		     path, where);
	else
		warn("'%s' is not a cgroup v2 directory; no cgroup v2 is mounted on this host (mount -t cgroup2 none DIR)\n",
		     path);
	return -1;
}

/* The initial cgroup namespace's inode number (PROC_CGROUP_INIT_INO). */
#define CGROUP_NS_INIT_INO 0xEFFFFFFBU

bool cgroup_ns_initial(void)
{
	struct stat st;

	/* No such file: a kernel without cgroup namespaces (before 4.6). */
	return stat("/proc/self/ns/cgroup", &st) || st.st_ino == CGROUP_NS_INIT_INO;
}

bool cgroup_v2_mount_find(FILE *mountinfo, struct cgroup_v2_mount *m)
{
	char line[2 * PATH_MAX + 256], root[PATH_MAX], point[PATH_MAX];
	bool found = false;

	while (fgets(line, sizeof(line), mountinfo)) {
		if (!cgroup2_line(line, root, point) || (found && strlen(root) >= strlen(m->root)))
			continue;
		memcpy(m->root, root, sizeof(root));
		memcpy(m->point, point, sizeof(point));
		found = true;
	}
	return found;
}

__u64 cgroup_id_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	/* 32-bit kernels split the ID into inode number and generation;
	 * tcpaccept runs on 64-bit ones only. */
	_Static_assert(sizeof(st.st_ino) == 8, "a cgroup ID is a 64-bit inode number");
	return st.st_ino;
}

/* --- ID -> path ------------------------------------------------------------- */

/* Deeper than any hierarchy a runtime makes; bounds the open directories. */
#define WALK_MAX_DEPTH 64

struct cgroup_entry {
	__u64 id;		/* 0: a free slot (the kernel's IDs start at 1) */
	char *path;
	__u64 walk;		/* the last walk that saw it */
};

struct cgroup_paths {
	struct cgroup_v2_mount mount;
	struct cgroup_entry *tab;	/* open addressing, linear probing */
	size_t cap, n;			/* cap: a power of two */
	size_t walked;			/* n after the last walk */
	__u64 walks, last_walk_ns, rewalk_ns, unreadable;
	char path[PATH_MAX];		/* the walk's current directory */
};

static size_t slot_of(const struct cgroup_paths *c, __u64 id)
{
	size_t i = (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (c->cap - 1);

	while (c->tab[i].id && c->tab[i].id != id)
		i = (i + 1) & (c->cap - 1);
	return i;
}

/* Moves the entries that @keep (entries seen by one of the last two walks,
 * or all) into a table of @cap slots; frees the others' paths. */
static int rebuild(struct cgroup_paths *c, size_t cap, bool all)
{
	struct cgroup_entry *old = c->tab;
	size_t old_cap = c->cap;

	c->tab = calloc(cap, sizeof(*c->tab));
	if (!c->tab) {
		c->tab = old;
		return -ENOMEM;
	}
	c->cap = cap;
	c->n = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].id)
			continue;
		if (!all && old[i].walk + 1 < c->walks) {
			free(old[i].path);
			continue;
		}
		c->tab[slot_of(c, old[i].id)] = old[i];
		c->n++;
	}
	free(old);
	return 0;
}

static int add(struct cgroup_paths *c, __u64 id, const char *path)
{
	struct cgroup_entry *e;
	char *copy;

	if (!id)
		return 0;
	if (2 * (c->n + 1) > c->cap && rebuild(c, 2 * c->cap, true))
		return -ENOMEM;
	e = &c->tab[slot_of(c, id)];
	if (e->id && !strcmp(e->path, path)) {
		e->walk = c->walks;
		return 0;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (e->id)
		free(e->path);
	else
		c->n++;
	*e = (struct cgroup_entry){ .id = id, .path = copy, .walk = c->walks };
	return 0;
}

/* Adds every directory below @fd (the directory c->path names, @len bytes
 * of it) and descends; closes @fd. */
static void walk_dir(struct cgroup_paths *c, int fd, size_t len, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	struct stat st;
	int sub, n;

	if (!d) {
		close(fd);
		c->unreadable++;
		return;
	}
	while ((de = readdir(d))) {
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Its ID needs only search permission on this directory. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		n = snprintf(c->path + len, sizeof(c->path) - len, "%s%s",
			     c->path[len - 1] == '/' ? "" : "/", de->d_name);
		if (n < 0 || (size_t)n >= sizeof(c->path) - len || add(c, st.st_ino, c->path)) {
			c->unreadable++;
		} else if (depth < WALK_MAX_DEPTH) {
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				walk_dir(c, sub, len + (size_t)n, depth + 1);
			else
				c->unreadable++;
		}
		c->path[len] = '\0';
	}
	closedir(d);
}

static int walk(struct cgroup_paths *c, __u64 now_ns)
{
	struct stat st;
	size_t len;
	int fd, err;

	fd = open(c->mount.point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	c->walks++;
	c->last_walk_ns = now_ns;
	c->unreadable = 0;
	len = strlen(c->mount.root);
	memcpy(c->path, c->mount.root, len + 1);
	if (add(c, st.st_ino, c->path)) {
		close(fd);
		return -ENOMEM;
	}
	walk_dir(c, fd, len, 1);
	/* Cgroups gone since the walk before are forgotten: a bounded table
	 * on a host that makes and removes cgroups all day. */
	err = rebuild(c, c->cap, false);
	c->walked = c->n;
	return err;
}

struct cgroup_paths *cgroup_paths_open(const struct cgroup_v2_mount *m, __u64 rewalk_ns,
				       __u64 now_ns)
{
	struct cgroup_paths *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->mount = *m;
	if (!c->mount.root[0])
		strcpy(c->mount.root, "/");
	c->rewalk_ns = rewalk_ns;
	c->cap = 256;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	err = c->tab ? walk(c, now_ns) : -ENOMEM;
	if (err) {
		cgroup_paths_free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

const char *cgroup_paths_lookup(struct cgroup_paths *c, __u64 id, __u64 now_ns)
{
	struct cgroup_entry *e = &c->tab[slot_of(c, id)];

	if (e->id || !id)
		return e->id ? e->path : NULL;
	if (now_ns - c->last_walk_ns < c->rewalk_ns || walk(c, now_ns))
		return NULL;
	e = &c->tab[slot_of(c, id)];
	return e->id ? e->path : NULL;
}

int cgroup_paths_walk(struct cgroup_paths *c, __u64 now_ns)
{
	return walk(c, now_ns);
}

int cgroup_paths_add(struct cgroup_paths *c, __u64 id, const char *path, __u64 now_ns)
{
	int err = add(c, id, path);

	/* Only walks forget cgroups that are gone: one more when the paths
	 * added since the last outnumber what it found. */
	if (!err && c->n > 2 * c->walked + 1024 && now_ns - c->last_walk_ns >= c->rewalk_ns)
		err = walk(c, now_ns);
	return err;
}

int cgroup_paths_foreach(struct cgroup_paths *c,
			 int (*fn)(__u64 id, const char *path, void *ctx), void *ctx)
{
	int ret;

	for (size_t i = 0; i < c->cap; i++)
		if (c->tab[i].id && (ret = fn(c->tab[i].id, c->tab[i].path, ctx)))
			return ret;
	return 0;
}

void cgroup_paths_stats(const struct cgroup_paths *c, struct cgroup_paths_stats *st)
{
	st->walks = c->walks;
	st->entries = c->n;
	st->unreadable = c->unreadable;
}

void cgroup_paths_free(struct cgroup_paths *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->tab && i < c->cap; i++)
		free(c->tab[i].path);
	free(c->tab);
	free(c);
}
