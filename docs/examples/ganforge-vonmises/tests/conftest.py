"""Make ``ganforge_vonmises`` importable when the package is not installed (plain ``pytest tests``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

if importlib.util.find_spec("ganforge_vonmises") is None:
    sys.path.insert(0, str(PACKAGE_ROOT))
