"""The project's own promises: the README's commands, CI running them, typed cores."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT


def _readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    assert block, "README must start with a code block of the set-up commands"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_the_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "kvits demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_pure_cores_pass_mypy_strict() -> None:
    if shutil.which("mypy") is None and subprocess.run([sys.executable, "-m", "mypy", "--version"],
                                                        capture_output=True).returncode != 0:
        pytest.skip("mypy not installed")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_migrations_build_exactly_the_models(engine: Any) -> None:
    """Alembic's comparison of the migrated database with the ORM finds nothing: a
    column, index or constraint added to a model without its migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import api.models  # noqa: F401
    import core.models  # noqa: F401
    import invoices.models  # noqa: F401
    import paylinks.models  # noqa: F401
    import psd2.models  # noqa: F401
    import reconciliation.models  # noqa: F401
    from core.db import Base

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
