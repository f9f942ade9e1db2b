"""What the `kvits` command's options chose, for every sub-command module: its own
module, so that `python -m api.cli` (where api.cli runs as __main__) shares it too."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.runtime import Runtime


class State:
    merchant: str | None = None
    _runtime: Runtime | None = None

    @classmethod
    def rt(cls) -> Runtime:
        if cls._runtime is None:
            from api.runtime import Runtime

            cls._runtime = Runtime(merchant_code=cls.merchant)
        return cls._runtime
