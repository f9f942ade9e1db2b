"""The in-process sandbox of the PSD2 tests (a fake clock from Thursday 3 December 2026)."""

from tests.psd2.conftest import sandbox  # noqa: F401  (the fixture)
