# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def preconditions():
    # Fail loudly, never skip: installing a package and tracing need root.
    assert os.geteuid() == 0, "the package tests need root"
