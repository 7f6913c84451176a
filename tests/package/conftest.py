# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# The host e2e harness (Tracer, peer) and the shared row checks.
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, ".."))


@pytest.fixture(scope="session", autouse=True)
def preconditions():
    # Fail loudly, never skip: installing a package and tracing need root.
    assert os.geteuid() == 0, "the package tests need root"
