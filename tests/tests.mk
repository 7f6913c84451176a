# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Every test rule, included by the Makefile. `make check` runs them all in
# the order of CHECKS (nothing is installed); `make test` (as root) first
# installs the packages they need (scripts/install-deps.sh test), then runs
# `make check`. Each is also a target of its own:
#
#   make unit       tests/unit: option parsing, row formatting, metrics (C)
#   make e2e        tests/e2e: the real binary on this host's kernel (pytest);
#                   tests/peer: the failure workloads against the kernel
#   make vm         tests/vm: every way in, in Debian's kernels under qemu
#   make sanitize   the host end-to-end tests against an ASan+UBSan build
#   make valgrind   tcpaccept under valgrind memcheck while tcppeer connects
#   make fuzz       libFuzzer on the row formatter, bounded
#   make dynamic    the host end-to-end tests against make STATIC=0, built
#                   with dpkg-buildflags' flags, all hardening on, as
#                   debian/rules builds it
#   make package    tests/package: make install; the .deb built in a copy of
#                   the tree, lintian, hardening-check, installed with apt,
#                   one traced accept, purged; the mirror logic; no URL in code
#
# pytest runs from the top of the tree: tests/ is a Python package, and the
# tests import what they share from tests/lib.
#
# Builds (nothing of this is installed):
#   $(PEER)                    the test peer, static (tests/peer)
#   $(OUTPUT)/tcpaccept.min.btf  --btf's test file
#   $(OUTPUT)/san/tcpaccept    clang -fsanitize=address,undefined; libbpf,
#                              libelf and libz static, glibc dynamic (ASan
#                              needs it)
#   $(OUTPUT)/vg/tcpaccept     the release objects linked the same way, so
#                              valgrind can replace malloc (it cannot in a
#                              fully static binary, and then finds no leaks)
#   $(OUTPUT)/fuzz/fuzz_format libFuzzer + ASan + UBSan, clang
#   $(OUTPUT)/distro/tcpaccept the distro build (make dynamic)
#
# Packages (Debian) on top of the build ones: valgrind, libclang-rt-14-dev
# (the sanitizer runtimes and libFuzzer of clang 14; only recommended by
# clang, so not installed with --no-install-recommends); dpkg-dev,
# debhelper, build-essential (dpkg-buildpackage), lintian, devscripts
# (hardening-check).

# The VM matrix comes last, so a run ends with its table and pytest's count.
CHECKS := unit sanitize valgrind fuzz dynamic package e2e vm
.PHONY: check unit e2e vm cross-arm64

PEER := $(OUTPUT)/tcppeer
UNIT_OBJS := $(addprefix $(OUTPUT)/,args.o format.o metrics.o series.o service.o cgroup.o)
# What the host e2e suite (tests/e2e) reads besides the tcpaccept under test:
# every run of it (e2e, sanitize, dynamic) builds them first. The release
# binary too: the systemd unit's system-call test straces the binary the
# unit runs, whichever build is under test.
E2E_NEEDS := $(BIN) $(PEER) $(OUTPUT)/tcpaccept.min.btf

# Every test, nothing installed: what `make test` runs after the set-up.
check:
	$(Q)$(MAKE) --no-print-directory $(CHECKS)

# --- unit, host end to end, VM -------------------------------------------------

$(OUTPUT)/tests:
	$(Q)mkdir -p $@

# Every tests/unit/*.c: each TEST() registers itself (tests/unit/unit.h).
UNIT_SRCS := $(wildcard tests/unit/*.c)
$(OUTPUT)/tests/unit_tests: $(UNIT_SRCS) tests/unit/unit.h $(UNIT_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(UNIT_SRCS) $(UNIT_OBJS) -o $@

$(PEER): tests/peer/tcppeer.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -Wall -Wextra -Werror -static -pthread $< -o $@

# --btf: this kernel's BTF cut down to the types tcpaccept reads (what
# `bpftool gen min_core_btf` does for a kernel without sysfs BTF, from a
# BTFHub-style file); the host e2e tests load it with sysfs BTF hidden.
$(OUTPUT)/tcpaccept.min.btf: $(OUTPUT)/tcpaccept.bpf.o
	$(call msg,MIN-BTF,$@)
	$(Q)$(BPFTOOL) gen min_core_btf /sys/kernel/btf/vmlinux $@ $<

# make unit UNIT=format_  runs the tests whose names start so.
unit: $(OUTPUT)/tests/unit_tests
	$(Q)$< $(UNIT)

e2e: $(BIN) $(E2E_NEEDS)
	$(Q)$(PYTEST) -v tests/e2e tests/peer

# The VM tests boot x86_64 and arm64 kernels: the arm64 binaries come from a
# cross build (make ARCH=arm64) into .output/arm64.
vm: $(BIN) $(PEER) cross-arm64
	$(Q)$(PYTEST) -v tests/vm

cross-arm64:
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 all .output/arm64/tcppeer

# --- sanitizers, valgrind, libFuzzer -------------------------------------------

SAN_DIR := $(OUTPUT)/san
VG_DIR := $(OUTPUT)/vg
FUZZ_DIR := $(OUTPUT)/fuzz

# clang's runtimes, not gcc's: gcc's UBSan writes its reports to stderr
# only, whatever log_path says (below).
SAN_CC ?= $(CLANG)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_APP := $(SAN_DIR)/tcpaccept
SAN_OBJS := $(patsubst $(OUTPUT)/%,$(SAN_DIR)/%,$(USER_OBJS))
# The libraries ASan does not instrument are linked statically all the same,
# so that the sanitized binary runs the libbpf the release binary runs.
SAN_LDLIBS := -Wl,-Bstatic $(LDLIBS) -Wl,-Bdynamic
SAN_REPORTS := $(SAN_DIR)/reports

VG_APP := $(VG_DIR)/tcpaccept
VALGRIND ?= valgrind

FUZZ_APP := $(FUZZ_DIR)/fuzz_format
FUZZ_SEEDS := $(FUZZ_DIR)/make_seeds
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -Wall -Wextra -Werror -D_GNU_SOURCE -I.
# Bounded so that `make check` stays quick (about 20 s on 2 cores);
# `make fuzz FUZZ_ARGS=-max_total_time=3600` fuzzes longer.
FUZZ_ARGS ?= -runs=200000 -max_total_time=25

# Every sanitizer report aborts the process (a test sees the exit status)
# and also lands in a file under $(SAN_REPORTS): `make sanitize` fails if
# any file is there, whatever the tests saw. The directory is writable by
# all: a test runs tcpaccept as nobody.
SAN_LOG := $(abspath $(SAN_REPORTS))
ASAN_OPTS := abort_on_error=1:halt_on_error=1:exitcode=86:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:log_path=$(SAN_LOG)/asan
SAN_ENV := UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$(SAN_LOG)/ubsan \
	LSAN_OPTIONS=exitcode=86 TCPACCEPT=$(abspath $(SAN_APP))
# Tests that run tcpaccept under strace: LeakSanitizer cannot work in a
# traced process (it stops the threads with ptrace itself), so these run
# in a second pass with leak detection off, ASan and UBSan on. The leak
# checks of those paths (usage errors) are valgrind's, in `make valgrind`.
SAN_PTRACED := tests/e2e/test_lifecycle.py::test_bad_command_lines_refused_before_loading

.PHONY: sanitize valgrind fuzz san-build vg-build fuzz-build

$(SAN_DIR) $(VG_DIR) $(FUZZ_DIR):
	$(Q)mkdir -p $@

# --- AddressSanitizer + UndefinedBehaviorSanitizer ---------------------------

$(addprefix $(SAN_DIR)/,$(SKEL_USERS)): $(OUTPUT)/tcpaccept.skel.h

$(SAN_DIR)/%.o: %.c | $(SAN_DIR)
	$(call msg,CC-SAN,$@)
	$(Q)$(SAN_CC) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(SAN_APP): $(SAN_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(SAN_CC) $(SAN_FLAGS) $^ $(SAN_LDLIBS) -o $@

-include $(SAN_OBJS:.o=.d)

san-build: $(SAN_APP)

sanitize: $(SAN_APP) $(E2E_NEEDS)
	$(Q)rm -rf $(SAN_REPORTS) && mkdir -p -m 1777 $(SAN_REPORTS)
	$(Q)rc=0; \
	$(SAN_ENV) ASAN_OPTIONS=detect_leaks=1:$(ASAN_OPTS) \
		$(PYTEST) -v tests/e2e $(addprefix --deselect=,$(SAN_PTRACED)) || rc=1; \
	$(SAN_ENV) ASAN_OPTIONS=detect_leaks=0:$(ASAN_OPTS) \
		$(PYTEST) -v $(SAN_PTRACED) || rc=1; \
	if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
		for f in $(SAN_REPORTS)/*; do echo "== $$f"; cat "$$f"; done; \
		echo "sanitize: the sanitizers reported errors (above)" >&2; rc=1; \
	fi; \
	exit $$rc

# --- valgrind memcheck -------------------------------------------------------

$(VG_APP): $(USER_OBJS) | $(VG_DIR)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $^ $(SAN_LDLIBS) -o $@

vg-build: $(VG_APP)

valgrind: $(VG_APP) $(APP) $(PEER)
	$(Q)TCPACCEPT_VALGRIND=$(abspath $(VG_APP)) VALGRIND=$(VALGRIND) \
		$(PYTEST) -v tests/e2e/test_reliability.py -k valgrind

# --- libFuzzer on the formatter ----------------------------------------------

$(FUZZ_APP): tests/fuzz/fuzz_format.c format.c format.h tcpaccept.h | $(FUZZ_DIR)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) tests/fuzz/fuzz_format.c format.c -o $@

$(FUZZ_SEEDS): tests/fuzz/make_seeds.c tests/fuzz/fuzz_input.h tcpaccept.h | $(FUZZ_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -Wall -Wextra -Werror -I. $< -o $@

$(FUZZ_APP): tests/fuzz/fuzz_input.h

fuzz-build: $(FUZZ_APP) $(FUZZ_SEEDS)

# The seed corpus is generated here, never committed; what libFuzzer adds
# to it stays in $(FUZZ_DIR)/corpus for the next run.
fuzz: $(FUZZ_APP) $(FUZZ_SEEDS)
	$(Q)mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(Q)$(FUZZ_SEEDS) $(FUZZ_DIR)/corpus
	$(Q)$(FUZZ_APP) $(FUZZ_ARGS) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus

# --- the distro build and the Debian package ------------------------------------

# Not .output/dynamic, where a plain make STATIC=0 puts objects built with
# other flags (make does not track flags).
DYN_DIR := $(OUTPUT)/distro
DYN_APP := $(DYN_DIR)/tcpaccept
# What debian/rules gets from dh; the package test checks the same flags on
# the .deb's binary with hardening-check.
DYN_BUILDFLAGS := DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh

.PHONY: dynamic package dyn-build

# A sub-make: the flags come from dpkg-buildflags at run time, and
# STATIC=0 has its own objects.
dyn-build:
	$(Q)eval "$$($(DYN_BUILDFLAGS))" && \
		$(MAKE) --no-print-directory STATIC=0 OUTPUT=$(DYN_DIR) BIN=$(DYN_APP) all

dynamic: dyn-build $(E2E_NEEDS)
	$(Q)TCPACCEPT=$(abspath $(DYN_APP)) $(PYTEST) -v tests/e2e

package: $(PEER)
	$(Q)$(PYTEST) -v tests/package
