"""Fixtures for the camt tests: where ../shared is, and small XML builders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# With tests/ on sys.path (tests/conftest.py, rootdir insertion), this folder would be
# imported as a namespace package "camt" and hide the real one. A regular package found
# anywhere on sys.path wins over a namespace portion, so the repository root must be on
# it. (A `pythonpath = ["."]` in pytest's config would make this unnecessary.)
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
_loaded = sys.modules.get("camt")
if _loaded is not None and getattr(_loaded, "__file__", None) is None:
    del sys.modules["camt"]  # the namespace stand-in, imported before this ran


def locate_shared_dir() -> Path | None:
    """../shared beside the repository, or $KVITS_SHARED_DIR; None when absent."""
    env = os.environ.get("KVITS_SHARED_DIR")
    folder = Path(env) if env else REPO_ROOT.parent / "shared"
    return folder if folder.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared samples/cases folder, read in place. Skips when it is absent, except
    on CI (CI=true), where a missing folder must fail the run instead of hiding tests."""
    folder = locate_shared_dir()
    if folder is None:
        where = os.environ.get("KVITS_SHARED_DIR") or str(REPO_ROOT.parent / "shared")
        message = f"shared folder not found at {where} (set KVITS_SHARED_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder
