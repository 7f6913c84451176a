# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
#   make              build ./tcpaccept (one static binary); installs nothing
#   make run          install missing build packages, build, start tracing
#   make test         install what the tests need, build, run every test
#                     (run and test need root: as root, type them as they are;
#                     as another user, sudo make run, sudo make test)
#   make check        every test, nothing installed (each test target: tests/tests.mk)
#   make install      DESTDIR=... prefix=... (default /usr/local)
#   make V=1          show the commands
#   make ARCH=arm64   cross-build .output/arm64/tcpaccept (CROSS_COMPILE=aarch64-linux-gnu-);
#                     scripts/install-arm64-deps.sh, as root, installs what that needs
#   make STATIC=0     build .output/dynamic/tcpaccept against the system's libbpf.so,
#                     with the caller's CPPFLAGS, CFLAGS, LDFLAGS (dpkg-buildflags)
#   make help         this list

APP := tcpaccept
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PYTEST ?= /usr/bin/python3 -m pytest

prefix ?= /usr/local
# sbin, as Debian installs bcc's tools (bpfcc-tools): it needs root to run.
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
docdir ?= $(prefix)/share/doc/tcpaccept
# The systemd unit (systemd/tcpaccept.service.in): --metrics for node_exporter.
unitdir ?= $(prefix)/lib/systemd/system
INSTALL ?= install

# ARCH is the kernel's name for the target (x86, arm64). It defaults to the CPU
# of the CROSS_COMPILE prefix if one is given, else to this machine's.
to_karch = $(patsubst aarch64,arm64,$(patsubst x86_64,x86,$(patsubst amd64,x86,$(1))))
HOST_ARCH := $(call to_karch,$(shell uname -m))
ifneq ($(CROSS_COMPILE),)
ARCH ?= $(call to_karch,$(firstword $(subst -, ,$(CROSS_COMPILE))))
endif
ARCH ?= $(HOST_ARCH)
override ARCH := $(call to_karch,$(ARCH))
TRIPLET_x86 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
TRIPLET := $(TRIPLET_$(ARCH))
ifeq ($(TRIPLET),)
$(error ARCH=$(ARCH): want x86 or arm64)
endif

# STATIC=0 is the distros' build: libbpf.so, so that a libbpf fix reaches the
# tool without a rebuild. Its objects are compiled with other flags (PIE,
# _FORTIFY_SOURCE), so they and the binary get a directory of their own.
STATIC ?= 1
ifeq ($(filter 0 1,$(STATIC)),)
$(error STATIC=$(STATIC): want 1 (static, the default) or 0 (dynamic))
endif
ifeq ($(STATIC),0)
OUTPUT ?= .output$(if $(filter-out $(HOST_ARCH),$(ARCH)),/$(ARCH))/dynamic
BIN ?= $(OUTPUT)/$(APP)
endif

# A foreign ARCH gets Debian's cross gcc, and its objects and binaries go under
# .output/$(ARCH) so that they never mix with the native ones. Debian's arm64
# libbpf/libelf/zlib (multiarch, /usr/lib/$(TRIPLET)) are on that gcc's default
# search path; SYSROOT=DIR uses a copy unpacked under DIR instead.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(TRIPLET)-
OUTPUT ?= .output/$(ARCH)
BIN ?= $(OUTPUT)/$(APP)
endif
OUTPUT ?= .output
BIN ?= $(APP)
ifneq ($(CROSS_COMPILE),)
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
# The target's .pc files, not the host's.
PKG_CONFIG_LIBDIR ?= $(SYSROOT)/usr/lib/$(TRIPLET)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig
endif
PKG_CONFIG ?= pkg-config
# Passed on the command line: make 4.3's $(shell) does not see exported variables.
PKG_CONFIG_ENV := $(if $(PKG_CONFIG_LIBDIR),PKG_CONFIG_LIBDIR=$(PKG_CONFIG_LIBDIR)) \
	$(if $(SYSROOT),PKG_CONFIG_SYSROOT_DIR=$(SYSROOT))

CFLAGS ?= -g -O2
override CFLAGS += -Wall -Wextra -Werror -D_GNU_SOURCE -I$(OUTPUT) -I.
ifneq ($(SYSROOT),)
override CFLAGS += -isystem $(SYSROOT)/usr/include
endif
LDFLAGS ?=
ifeq ($(STATIC),0)
# libbpf.so brings libelf and libz itself.
LDLIBS := $(or $(shell $(PKG_CONFIG_ENV) $(PKG_CONFIG) --libs libbpf 2>/dev/null),-lbpf)
else
override LDFLAGS += -static
# For a static link libbpf.pc adds what libelf and zlib need in turn.
LDLIBS := $(or $(shell $(PKG_CONFIG_ENV) $(PKG_CONFIG) --static --libs libbpf 2>/dev/null),-lbpf -lelf -lz)
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -I. -Wall -Werror

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

USER_OBJS := $(addprefix $(OUTPUT)/,tcpaccept.o plan.o ways.o rows.o catchup.o tables.o \
	output.o log.o args.o format.o metrics.o series.o capabilities.o kernel_probes.o \
	tracefs.o blocked_threads.o cgroup.o service.o identity.o process.o)
# The user-space objects that include the skeleton (tests/tests.mk too).
SKEL_USERS := tcpaccept.o plan.o ways.o rows.o catchup.o tables.o

.DELETE_ON_ERROR:
# Keep the BPF object (make would delete it as an intermediate): bpftool and
# llvm-objdump read it when debugging.
.SECONDARY: $(OUTPUT)/tcpaccept.bpf.o
.PHONY: all clean install uninstall deps test-deps run test bench bench-profile bench-vm help

all: $(BIN)

$(OUTPUT):
	$(Q)mkdir -p $@

# BPF object: compiled against vmlinux/ (CO-RE), DWARF stripped, BTF kept.
$(OUTPUT)/%.bpf.o: %.bpf.c tcpaccept.h vmlinux/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

# Skeleton: the BPF object embedded in a header for the user-space program.
$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(addprefix $(OUTPUT)/,$(SKEL_USERS)): $(OUTPUT)/tcpaccept.skel.h

$(OUTPUT)/%.o: %.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

-include $(USER_OBJS:.o=.d)

# Every test rule (unit, e2e, vm, sanitize, valgrind, fuzz, dynamic, package,
# check) is in tests/tests.mk.
include tests/tests.mk

# --- set-up, run, test --------------------------------------------------------

deps:
	$(Q)sh scripts/install-deps.sh build

test-deps:
	$(Q)sh scripts/install-deps.sh test
	$(Q)sh scripts/install-arm64-deps.sh test

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./$(BIN)

test: test-deps
	$(Q)$(MAKE) --no-print-directory check

# This file's opening comment, from its third line to the first that is not
# a comment.
help:
	@sed -n '3,/^[^#]/s/^# \{0,3\}//p' $(firstword $(MAKEFILE_LIST))

# The benchmark prints its figures (bench/README.md); not part of make test.
bench: $(BIN) $(OUTPUT)/bench/floorload
	$(Q)bash bench/run.sh

# The start-up floor the bench sets tcpaccept beside: the least a CO-RE
# loader with the same static libbpf does (bench/floorload.c).
$(OUTPUT)/bench:
	$(Q)mkdir -p $@
$(OUTPUT)/bench/floorload.bpf.o: | $(OUTPUT)/bench
$(OUTPUT)/bench/floorload.o: $(OUTPUT)/bench/floorload.skel.h
$(OUTPUT)/bench/floorload: $(OUTPUT)/bench/floorload.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

bench-profile: $(BIN)
	$(Q)bash bench/profile.sh

# The cost of every way in, in Debian's kernels under qemu (bench/vm.sh).
bench-vm: $(BIN)
	$(Q)bash bench/vm.sh

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(docdir)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(sbindir)/$(APP)
	$(INSTALL) -m 0644 tcpaccept.8 $(DESTDIR)$(mandir)/man8/tcpaccept.8
	$(INSTALL) -m 0644 tcpaccept_example.txt $(DESTDIR)$(docdir)/tcpaccept_example.txt
	$(INSTALL) -d $(DESTDIR)$(unitdir)
	sed 's|@sbindir@|$(sbindir)|g' systemd/tcpaccept.service.in > $(DESTDIR)$(unitdir)/tcpaccept.service
	chmod 0644 $(DESTDIR)$(unitdir)/tcpaccept.service

uninstall:
	rm -f $(DESTDIR)$(sbindir)/$(APP) $(DESTDIR)$(mandir)/man8/tcpaccept.8 \
		$(DESTDIR)$(docdir)/tcpaccept_example.txt $(DESTDIR)$(unitdir)/tcpaccept.service
	-rmdir $(DESTDIR)$(docdir)

clean:
	rm -rf $(OUTPUT) $(BIN)
