# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
import os

import pytest

from tests.lib import PEER, TCPACCEPT
from tests.lib.host import STARTED


@pytest.fixture(scope="session", autouse=True)
def preconditions():
    # Fail loudly, never skip: these tests are what CI is for.
    assert os.geteuid() == 0, "the end-to-end tests need root"
    for path in (TCPACCEPT, PEER):
        assert os.access(path, os.X_OK), f"{path} is not built (make all {PEER})"


@pytest.fixture(autouse=True)
def no_leftovers():
    """Kills whatever a test started and left running (a failed one)."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
