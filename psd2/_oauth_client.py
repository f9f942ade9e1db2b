"""authlib's httpx OAuth2Client, imported once.

authlib now prefers the `httpx2` fork and warns when it falls back to `httpx`, which
kvits uses (as does FastAPI's TestClient); the fallback is supported, so the warning is
silenced here rather than printed by every command that touches a bank."""

from __future__ import annotations

import warnings

import authlib.deprecate  # noqa: F401  (it installs an "always" filter; ours must come after)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client

__all__ = ["OAuth2Client"]
