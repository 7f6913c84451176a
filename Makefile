# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
#   make              build ./tcpaccept (one static binary); installs nothing
#   sudo make run     install missing build packages, build, start tracing
#   sudo make test    install what the tests need, build, run every test
#   make install      DESTDIR=... prefix=... (default /usr/local)
#   make V=1          show the commands

OUTPUT ?= .output
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PYTEST ?= /usr/bin/python3 -m pytest

prefix ?= /usr/local
# sbin, as Debian installs bcc's tools (bpfcc-tools): it needs root to run.
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
docdir ?= $(prefix)/share/doc/tcpaccept
INSTALL ?= install

ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS ?= -g -O2
override CFLAGS += -Wall -Wextra -Werror -D_GNU_SOURCE -I$(OUTPUT) -I.
LDFLAGS ?=
override LDFLAGS += -static
LDLIBS := -lbpf -lelf -lz

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -I. -Wall -Werror

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

APP := tcpaccept
USER_OBJS := $(addprefix $(OUTPUT)/,tcpaccept.o args.o format.o trace_helpers.o)
UNIT_OBJS := $(addprefix $(OUTPUT)/,args.o format.o)
PEER := $(OUTPUT)/tcppeer

.DELETE_ON_ERROR:
.PHONY: all clean install uninstall deps test-deps run test check unit e2e vm bench bench-profile

all: $(APP)

$(OUTPUT) $(OUTPUT)/tests:
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

$(OUTPUT)/tcpaccept.o: $(OUTPUT)/tcpaccept.skel.h

$(OUTPUT)/%.o: %.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(APP): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

-include $(USER_OBJS:.o=.d)

# --- tests ------------------------------------------------------------------

$(OUTPUT)/tests/unit_tests: tests/unit/unit_tests.c $(UNIT_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

$(PEER): tests/peer/tcppeer.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -Wall -Wextra -Werror -static -pthread $< -o $@

# tests/tests.mk adds the sanitizer, valgrind and fuzzing checks to CHECKS.
CHECKS := unit e2e vm
-include tests/tests.mk

unit: $(OUTPUT)/tests/unit_tests
	$(Q)$<

e2e: $(APP) $(PEER)
	$(Q)$(PYTEST) -v tests/e2e

vm: $(APP) $(PEER)
	$(Q)$(PYTEST) -v tests/vm

# Every test, nothing installed: what `make test` runs after the set-up.
check:
	$(Q)$(MAKE) --no-print-directory $(CHECKS)

# --- set-up, run, test --------------------------------------------------------

deps:
	$(Q)sh scripts/install-deps.sh build

test-deps:
	$(Q)sh scripts/install-deps.sh test

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./$(APP)

test: test-deps
	$(Q)$(MAKE) --no-print-directory check

# The benchmark prints its figures (bench/README.md); not part of make test.
bench: $(APP)
	$(Q)bash bench/run.sh

bench-profile: $(APP)
	$(Q)bash bench/profile.sh

install: $(APP)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(docdir)
	$(INSTALL) -m 0755 $(APP) $(DESTDIR)$(sbindir)/$(APP)
	$(INSTALL) -m 0644 tcpaccept.8 $(DESTDIR)$(mandir)/man8/tcpaccept.8
	$(INSTALL) -m 0644 tcpaccept_example.txt $(DESTDIR)$(docdir)/tcpaccept_example.txt

uninstall:
	rm -f $(DESTDIR)$(sbindir)/$(APP) $(DESTDIR)$(mandir)/man8/tcpaccept.8 \
		$(DESTDIR)$(docdir)/tcpaccept_example.txt
	-rmdir $(DESTDIR)$(docdir)

clean:
	rm -rf $(OUTPUT) $(APP)
