# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# The distro build and the Debian package, included by the Makefile
# (`make check`, `make test`). Each is also a target of its own:
#
#   make dynamic    the host end-to-end tests against make STATIC=0, built
#                   with dpkg-buildflags' flags, all hardening on, as
#                   debian/rules builds it
#   make package    tests/package: the .deb built in a copy of the tree,
#                   lintian, hardening-check, installed with apt, one traced
#                   accept, purged; the mirror logic; no URL in code
#
# Packages (Debian) on top of the build ones: dpkg-dev, debhelper,
# build-essential (dpkg-buildpackage), lintian, devscripts (hardening-check).

# Not .output/dynamic, where a plain make STATIC=0 puts objects built with
# other flags (make does not track flags).
DYN_DIR := $(OUTPUT)/distro
DYN_APP := $(DYN_DIR)/tcpaccept
# What debian/rules gets from dh; the package test checks the same flags on
# the .deb's binary with hardening-check.
DYN_BUILDFLAGS := DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh

CHECKS += dynamic package
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
