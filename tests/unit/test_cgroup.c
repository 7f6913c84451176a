// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: finding the cgroup2 mount, and cgroup IDs -> paths (cgroup.c).
 * The walks run on a directory tree made here: any file system numbers
 * directories by inode as cgroup2 does, so the tree stands in for one (the
 * real hierarchy is the e2e tests'). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "cgroup.h"

static bool find_in(const char *text, struct cgroup_v2_mount *m)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	bool found = cgroup_v2_mount_find(f, m);

	fclose(f);
	return found;
}

/* Lines as this host and a pure v2 host write them. */
#define V1_LINES \
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" \
	"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" \
	"39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"

TEST(cgroup_v2_mount_find)
{
	struct cgroup_v2_mount m;

	CHECK(find_in(V1_LINES "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
		      &m) && !strcmp(m.point, "/sys/fs/cgroup/unified") && !strcmp(m.root, "/"),
	      "hybrid: %s %s", m.point, m.root);
	CHECK(find_in("25 22 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 "
		      "rw,nsdelegate,memory_recursiveprot\n", &m) &&
	      !strcmp(m.point, "/sys/fs/cgroup"), "pure v2 (optional fields): %s", m.point);
	CHECK(!find_in(V1_LINES, &m), "v1 only: no cgroup2");
	CHECK(!find_in("", &m), "empty mountinfo");
	/* A subtree mounted first, the whole hierarchy after it: the whole wins. */
	CHECK(find_in("50 22 0:37 /system.slice /mnt/sub rw - cgroup2 cgroup2 rw\n"
		      "51 22 0:37 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n"
		      "52 22 0:37 / /mnt/second rw - cgroup2 cgroup2 rw\n", &m) &&
	      !strcmp(m.point, "/mnt/my cg") && !strcmp(m.root, "/"),
	      "shortest root, first of those, unescaped: %s %s", m.point, m.root);
	CHECK(find_in("50 22 0:37 /system.slice /mnt/sub rw - cgroup2 cgroup2 rw\n", &m) &&
	      !strcmp(m.root, "/system.slice"), "subtree only: %s", m.root);
	/* A file system whose type merely starts so is not cgroup2. */
	CHECK(!find_in("50 22 0:37 / /mnt/x rw - cgroup2x cgroup2 rw\n", &m), "cgroup2x");
}

/* A tree under a new temporary directory: its path in @top. */
static void make_tree(char *top, size_t size, const char *const *dirs)
{
	char path[2 * PATH_MAX];

	snprintf(top, size, "/tmp/tcpaccept-unit-XXXXXX");
	if (!mkdtemp(top))
		abort();
	for (; *dirs; dirs++) {
		snprintf(path, sizeof(path), "%s%s", top, *dirs);
		CHECK(!mkdir(path, 0755), "mkdir %s: %s", path, strerror(errno));
	}
}

static void remove_tree(const char *top, const char *const *dirs)
{
	char path[2 * PATH_MAX];
	size_t n = 0;

	while (dirs[n])
		n++;
	while (n--) {
		snprintf(path, sizeof(path), "%s%s", top, dirs[n]);
		rmdir(path);
	}
	rmdir(top);
}

static __u64 id_at(const char *top, const char *rel)
{
	char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", top, rel);
	return cgroup_id_of(path);
}

static const char *const tree[] = {
	"/system.slice", "/system.slice/nginx.service", "/libpod_parent",
	"/libpod_parent/libpod-4f3c", "/libpod_parent/libpod-4f3c/deep", NULL,
};

#define SEC 1000000000ULL

TEST(cgroup_paths_walk)
{
	struct cgroup_v2_mount m = { .root = "/" };
	struct cgroup_paths_stats st;
	struct cgroup_paths *c;
	const char *p;

	make_tree(m.point, sizeof(m.point), tree);
	c = cgroup_paths_open(&m, SEC, 100 * SEC);
	CHECK(c, "open: %s", strerror(errno));
	if (!c)
		return;
	for (const char *const *d = tree; *d; d++) {
		p = cgroup_paths_lookup(c, id_at(m.point, *d), 100 * SEC);
		CHECK(p && !strcmp(p, *d), "%s: %s", *d, p ? p : "(null)");
	}
	p = cgroup_paths_lookup(c, id_at(m.point, ""), 100 * SEC);
	CHECK(p && !strcmp(p, "/"), "the top is /: %s", p ? p : "(null)");
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 1 && st.entries == 6 && st.unreadable == 0,
	      "one walk, 6 IDs: %llu %llu %llu", (unsigned long long)st.walks,
	      (unsigned long long)st.entries, (unsigned long long)st.unreadable);
	CHECK(!cgroup_paths_lookup(c, 0, 100 * SEC), "ID 0 is none");
	cgroup_paths_free(c);
	remove_tree(m.point, tree);
}

/* A subtree's mount: paths start with mountinfo's ROOT. */
TEST(cgroup_paths_root)
{
	struct cgroup_v2_mount m = { .root = "/kubepods" };
	struct cgroup_paths *c;
	const char *p;

	make_tree(m.point, sizeof(m.point), tree);
	c = cgroup_paths_open(&m, SEC, 0);
	p = c ? cgroup_paths_lookup(c, id_at(m.point, "/system.slice/nginx.service"), 0) : NULL;
	CHECK(p && !strcmp(p, "/kubepods/system.slice/nginx.service"), "%s", p ? p : "(null)");
	p = c ? cgroup_paths_lookup(c, id_at(m.point, ""), 0) : NULL;
	CHECK(p && !strcmp(p, "/kubepods"), "top: %s", p ? p : "(null)");
	cgroup_paths_free(c);
	remove_tree(m.point, tree);
}

/* A new directory is found by the next walk a miss may start: not before
 * @rewalk_ns has passed since the last walk. */
TEST(cgroup_paths_rewalk)
{
	static const char *const more[] = { "/system.slice/new.service", NULL };
	struct cgroup_v2_mount m = { .root = "/" };
	struct cgroup_paths_stats st;
	struct cgroup_paths *c;
	char dir[2 * PATH_MAX];
	const char *p;
	__u64 id;

	make_tree(m.point, sizeof(m.point), tree);
	c = cgroup_paths_open(&m, SEC, 100 * SEC);
	if (!c)
		return;
	snprintf(dir, sizeof(dir), "%s%s", m.point, more[0]);
	CHECK(!mkdir(dir, 0755), "mkdir %s", dir);
	id = id_at(m.point, more[0]);
	CHECK(!cgroup_paths_lookup(c, id, 100 * SEC + SEC - 1), "found before the rate limit");
	CHECK(!cgroup_paths_lookup(c, 12345678901ULL, 100 * SEC + SEC / 2), "unknown ID");
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 1, "misses within the limit walked: %llu", (unsigned long long)st.walks);
	p = cgroup_paths_lookup(c, id, 101 * SEC);
	CHECK(p && !strcmp(p, more[0]), "after the limit: %s", p ? p : "(null)");
	/* Known IDs never walk. */
	cgroup_paths_lookup(c, id, 500 * SEC);
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 2 && st.entries == 7, "walks %llu entries %llu",
	      (unsigned long long)st.walks, (unsigned long long)st.entries);
	cgroup_paths_free(c);
	rmdir(dir);
	remove_tree(m.point, tree);
}

/* A removed cgroup's ID outlives one walk (a late row still gets its
 * path), not two; an added one stays like a walked one. */
TEST(cgroup_paths_forget)
{
	static const char *const gone[] = { "/gone", NULL };
	struct cgroup_v2_mount m = { .root = "/" };
	struct cgroup_paths_stats st;
	struct cgroup_paths *c;
	char path[2 * PATH_MAX];
	__u64 id;

	make_tree(m.point, sizeof(m.point), gone);
	id = id_at(m.point, "/gone");
	c = cgroup_paths_open(&m, 0, 0);
	if (!c)
		return;
	CHECK(!cgroup_paths_add(c, 99999999999ULL, "/from/mkdir", 0), "add");
	snprintf(path, sizeof(path), "%s/gone", m.point);
	rmdir(path);
	CHECK(!cgroup_paths_lookup(c, 88888888888ULL, 1), "unknown");	/* walk 2 */
	CHECK(cgroup_paths_lookup(c, id, 1) != NULL, "gone, one walk later: still known");
	CHECK(cgroup_paths_lookup(c, 99999999999ULL, 1) != NULL, "added: known");
	CHECK(!cgroup_paths_lookup(c, 88888888888ULL, 2), "unknown");	/* walk 3 */
	CHECK(!cgroup_paths_lookup(c, id, 3), "gone, two walks later: forgotten");
	cgroup_paths_stats(c, &st);
	CHECK(st.entries == 1, "only the top is left: %llu", (unsigned long long)st.entries);
	cgroup_paths_free(c);
	remove_tree(m.point, gone);
}

/* Paths fed from cgroup_mkdir that no walk sees again (cgroups made and
 * removed all day) start a walk once they outnumber the walked ones and
 * 1024, no sooner than rewalk_ns after the last: the table stays bounded. */
TEST(cgroup_paths_added_bounded)
{
	struct cgroup_v2_mount m = { .root = "/" };
	struct cgroup_paths_stats st;
	struct cgroup_paths *c;
	char path[64];

	make_tree(m.point, sizeof(m.point), (const char *const[]){ NULL });
	c = cgroup_paths_open(&m, SEC, 0);
	if (!c)
		return;
	for (__u64 i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "/made/%llu", (unsigned long long)i);
		cgroup_paths_add(c, 1000000 + i, path, SEC / 2);
	}
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 1 && st.entries == 1101, "within rewalk_ns: no walk (%llu, %llu)",
	      (unsigned long long)st.walks, (unsigned long long)st.entries);
	cgroup_paths_add(c, 2000000, "/made/late", 2 * SEC);
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 2 && st.entries == 1102, "then one walk, which keeps them once (%llu, %llu)",
	      (unsigned long long)st.walks, (unsigned long long)st.entries);
	CHECK(cgroup_paths_lookup(c, 1000007, 2 * SEC) != NULL, "still known after one walk");
	CHECK(!cgroup_paths_lookup(c, 1, 4 * SEC), "unknown: a walk");
	cgroup_paths_stats(c, &st);
	CHECK(st.walks == 3 && st.entries == 1, "two walks later, forgotten (%llu, %llu)",
	      (unsigned long long)st.walks, (unsigned long long)st.entries);
	cgroup_paths_free(c);
	rmdir(m.point);
}

/* Many cgroups: the table grows; foreach sees each once. */
static int count_one(__u64 id, const char *path, void *ctx)
{
	(void)id;
	(void)path;
	(*(int *)ctx)++;
	return 0;
}

TEST(cgroup_paths_many)
{
	struct cgroup_v2_mount m = { .root = "/" };
	struct cgroup_paths *c;
	char path[2 * PATH_MAX];
	int n = 0, found = 0;
	const char *p;

	make_tree(m.point, sizeof(m.point), (const char *const[]){ NULL });
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "%s/c%d", m.point, i);
		mkdir(path, 0755);
	}
	c = cgroup_paths_open(&m, SEC, 0);
	if (!c)
		return;
	cgroup_paths_foreach(c, count_one, &n);
	CHECK(n == 1001, "foreach: %d", n);
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "%s/c%d", m.point, i);
		p = cgroup_paths_lookup(c, cgroup_id_of(path), 0);
		found += p && !strcmp(p, path + strlen(m.point));
		rmdir(path);
	}
	CHECK(found == 1000, "found %d of 1000", found);
	cgroup_paths_free(c);
	rmdir(m.point);
}

TEST(cgroup_paths_no_mount)
{
	struct cgroup_v2_mount m = { .point = "/nonexistent/cgroup2", .root = "/" };

	errno = 0;
	CHECK(!cgroup_paths_open(&m, SEC, 0) && errno == ENOENT, "errno %d", errno);
	CHECK(cgroup_id_of("/nonexistent") == 0 && errno == ENOENT, "cgroup_id_of");
}
