"""The merchants' calendar: one "today" for everything that depends on the day (overdue
invoices, default issue dates, what the pages show), in KVITS_TIMEZONE, whatever time
zone the servers run in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def today_in(timezone: str, now: datetime | None = None) -> date:
    """The day it is in `timezone` (an invoice due on the 3rd is overdue on the 4th in
    Riga, also between midnight and 2 a.m. UTC)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def local(moment: datetime, timezone: str | None = None) -> datetime:
    """`moment` (aware, or naive UTC as SQLite gives it back) in the merchants' zone."""
    if timezone is None:
        from core.settings import get_settings

        timezone = get_settings().timezone
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone))


def today() -> date:
    """Today in KVITS_TIMEZONE."""
    from core.settings import get_settings

    return today_in(get_settings().timezone)
