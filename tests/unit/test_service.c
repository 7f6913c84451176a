// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Unit tests: which service a cgroup path names (service.c). */
#include <string.h>
#include "unit.h"
#include "service.h"

#define ID_A "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define POD "8a1c3b5e-2f4d-4c6b-9e8a-7d6c5b4a3f21"
#define POD_ "8a1c3b5e_2f4d_4c6b_9e8a_7d6c5b4a3f21"	/* as the systemd driver writes it */

struct service_case {
	const char *path, *unit, *container;
	enum container_runtime rt;
	const char *pod;
};

static const struct service_case cases[] = {
	/* systemd services, scopes, the user's units */
	{ "/system.slice/nginx.service", "nginx.service", "", RUNTIME_NONE, "" },
	{ "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "",
	  RUNTIME_NONE, "" },
	{ "/init.scope", "init.scope", "", RUNTIME_NONE, "" },
	{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "", RUNTIME_NONE, "" },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app.service", "app.service", "",
	  RUNTIME_NONE, "" },
	{ "/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope", "",
	  RUNTIME_NONE, "" },
	{ "/user.slice/user-1000.slice/user@1000.service", "user@1000.service", "",
	  RUNTIME_NONE, "" },
	/* a service's own sub-cgroups are still that service */
	{ "/system.slice/nginx.service/workers/w1", "nginx.service", "", RUNTIME_NONE, "" },
	{ "/system.slice/systemd-journald.service", "systemd-journald.service", "",
	  RUNTIME_NONE, "" },
	{ "/system.slice/dev-hugepages.mount", "dev-hugepages.mount", "", RUNTIME_NONE, "" },
	{ "/system.slice/sshd.socket", "sshd.socket", "", RUNTIME_NONE, "" },
	{ "/system.slice/dev-disk-by\\x2duuid-1234.swap", "dev-disk-by\\x2duuid-1234.swap", "",
	  RUNTIME_NONE, "" },
	/* Docker */
	{ "/system.slice/docker-" ID_A ".scope", "docker-" ID_A ".scope", ID_A, RUNTIME_DOCKER, "" },
	{ "/docker/" ID_A, "", ID_A, RUNTIME_DOCKER, "" },
	/* a container that runs systemd (cgroupns): its units are below */
	{ "/system.slice/docker-" ID_A ".scope/init.scope", "docker-" ID_A ".scope", ID_A,
	  RUNTIME_DOCKER, "" },
	/* Docker-in-Docker: the inner container wins, the host's unit stays */
	{ "/system.slice/docker-" ID_A ".scope/system.slice/docker-" ID_B ".scope",
	  "docker-" ID_A ".scope", ID_B, RUNTIME_DOCKER, "" },
	{ "/docker/" ID_A "/docker/" ID_B, "", ID_B, RUNTIME_DOCKER, "" },
	/* podman: systemd (root and rootless), cgroupfs */
	{ "/machine.slice/libpod-" ID_A ".scope", "libpod-" ID_A ".scope", ID_A, RUNTIME_PODMAN, "" },
	{ "/machine.slice/libpod-" ID_A ".scope/container", "libpod-" ID_A ".scope", ID_A,
	  RUNTIME_PODMAN, "" },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A ".scope/container",
	  "libpod-" ID_A ".scope", ID_A, RUNTIME_PODMAN, "" },
	{ "/libpod_parent/libpod-" ID_A, "", ID_A, RUNTIME_PODMAN, "" },
	{ "/machine.slice/libpod-conmon-" ID_A ".scope", "libpod-conmon-" ID_A ".scope", "",
	  RUNTIME_NONE, "" },
	/* Kubernetes, systemd driver: containerd, CRI-O */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_ ".slice/"
	  "cri-containerd-" ID_A ".scope", "cri-containerd-" ID_A ".scope", ID_A,
	  RUNTIME_CONTAINERD, POD },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" POD_ ".slice/"
	  "crio-" ID_A ".scope", "crio-" ID_A ".scope", ID_A, RUNTIME_CRIO, POD },
	/* Guaranteed QoS: the pod right under kubepods */
	{ "/kubepods.slice/kubepods-pod" POD_ ".slice/cri-containerd-" ID_A ".scope",
	  "cri-containerd-" ID_A ".scope", ID_A, RUNTIME_CONTAINERD, POD },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" POD_ ".slice/"
	  "crio-conmon-" ID_A ".scope", "crio-conmon-" ID_A ".scope", "", RUNTIME_NONE, "" },
	/* Kubernetes, cgroupfs driver */
	{ "/kubepods/burstable/pod" POD "/" ID_A, "", ID_A, RUNTIME_CRI, POD },
	{ "/kubepods/besteffort/pod" POD "/" ID_A, "", ID_A, RUNTIME_CRI, POD },
	{ "/kubepods/pod" POD "/" ID_A, "", ID_A, RUNTIME_CRI, POD },
	{ "/kubepods/burstable/pod" POD "/crio-" ID_A, "", ID_A, RUNTIME_CRIO, POD },
	/* the pod's own cgroup, no container yet */
	{ "/kubepods/burstable/pod" POD, "", "", RUNTIME_NONE, "" },
	/* kind: nodes are Docker containers running systemd and the kubelet */
	{ "/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" POD_ ".slice/"
	  "cri-containerd-" ID_B ".scope", "docker-" ID_A ".scope", ID_B, RUNTIME_CONTAINERD, POD },
	{ "/docker/" ID_A "/kubelet/kubepods/burstable/pod" POD "/" ID_B, "", ID_B, RUNTIME_CRI,
	  POD },
	/* nothing to name */
	{ "/", "", "", RUNTIME_NONE, "" },
	{ "", "", "", RUNTIME_NONE, "" },
	{ "/process_api/fc2433baabbcd99468fe7df26a3c2f88", "", "", RUNTIME_NONE, "" },
	{ "/system.slice", "", "", RUNTIME_NONE, "" },
	{ "/system.slice/not a unit", "", "", RUNTIME_NONE, "" },
	{ "/system.slice/.service", "", "", RUNTIME_NONE, "" },
	{ "/system.slice/a@b@c.service", "", "", RUNTIME_NONE, "" },
	{ "/../../system.slice/nginx.service", "", "", RUNTIME_NONE, "" },
	/* IDs that are not 64 lowercase hex digits */
	{ "/system.slice/docker-" "4F3C2B1A09E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9C8B7A6F5E4D3C2"
	  ".scope", "docker-4F3C2B1A09E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9C8B7A6F5E4D3C2.scope",
	  "", RUNTIME_NONE, "" },
	{ "/system.slice/docker-" ID_A "0.scope", "docker-" ID_A "0.scope", "", RUNTIME_NONE, "" },
	{ "/docker/4f3c2b1a09e8", "", "", RUNTIME_NONE, "" },
	{ "/docker/" ID_A "x", "", "", RUNTIME_NONE, "" },
	{ "/machine.slice/libpod-" ID_A ".scop", "", "", RUNTIME_NONE, "" },
	/* a bare ID elsewhere is no known layout */
	{ "/default/" ID_A, "", "", RUNTIME_NONE, "" },
	{ "/" ID_A, "", "", RUNTIME_NONE, "" },
	/* a bad pod UID keeps the container, not the pod */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD ".slice/"
	  "cri-containerd-" ID_A ".scope", "cri-containerd-" ID_A ".scope", ID_A,
	  RUNTIME_CONTAINERD, "" },
	/* slashes doubled or trailing */
	{ "//system.slice//nginx.service/", "nginx.service", "", RUNTIME_NONE, "" },
};

TEST(service_of_cgroup)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct service_case *c = &cases[i];
		struct service s;

		service_of_cgroup(c->path, &s);
		CHECK(!strcmp(s.unit, c->unit), "%s: unit '%s', want '%s'", c->path, s.unit, c->unit);
		CHECK(!strcmp(s.container, c->container), "%s: container '%s', want '%s'", c->path,
		      s.container, c->container);
		CHECK(s.runtime == c->rt, "%s: runtime %s, want %s", c->path, service_runtime_name(s.runtime),
		      service_runtime_name(c->rt));
		CHECK(!strcmp(s.pod_uid, c->pod), "%s: pod '%s', want '%s'", c->path, s.pod_uid,
		      c->pod);
	}
}

TEST(service_unit_name_limit)
{
	char path[600], name[300];
	struct service s;

	/* 255 bytes is systemd's longest name; 256 is not a unit. */
	memset(name, 'a', 247);
	strcpy(name + 247, ".service");
	snprintf(path, sizeof(path), "/system.slice/%s", name);
	service_of_cgroup(path, &s);
	CHECK(strlen(s.unit) == 255 && !strcmp(s.unit, name), "255-byte unit: '%s'", s.unit);
	memset(name, 'a', 248);
	strcpy(name + 248, ".service");
	snprintf(path, sizeof(path), "/system.slice/%s", name);
	service_of_cgroup(path, &s);
	CHECK(!s.unit[0], "256-byte unit: '%s'", s.unit);
}

TEST(service_label)
{
	struct service s;
	char buf[64];

	service_of_cgroup("/libpod_parent/libpod-" ID_A, &s);
	CHECK(!strcmp(service_label(&s, "/libpod_parent/libpod-" ID_A, buf, sizeof(buf)),
		      "4f3c2b1a09e8"), "%s", buf);
	service_of_cgroup("/system.slice/nginx.service", &s);
	CHECK(!strcmp(service_label(&s, "/system.slice/nginx.service", buf, sizeof(buf)),
		      "nginx.service"), "%s", buf);
	service_of_cgroup("/process_api/x", &s);
	CHECK(!strcmp(service_label(&s, "/process_api/x", buf, sizeof(buf)), "/process_api/x"),
	      "%s", buf);
	CHECK(!strcmp(service_runtime_name(RUNTIME_CRIO), "cri-o") && !strcmp(service_runtime_name(RUNTIME_NONE), "")
	      && !strcmp(service_runtime_name((enum container_runtime)99), ""), "runtime names");
}

TEST(service_container_prefix)
{
	CHECK(service_container_prefix_valid("4"), "one digit");
	CHECK(service_container_prefix_valid("4f3c2b1a09e8"), "short ID");
	CHECK(service_container_prefix_valid(ID_A), "full ID");
	CHECK(!service_container_prefix_valid(ID_A "0"), "65 digits");
	CHECK(!service_container_prefix_valid(""), "empty");
	CHECK(!service_container_prefix_valid("4F3C"), "upper case");
	CHECK(!service_container_prefix_valid("nginx"), "a name");
}
