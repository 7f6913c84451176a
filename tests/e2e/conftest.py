# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
