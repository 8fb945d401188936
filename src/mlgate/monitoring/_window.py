"""The time window ``mlgate monitor`` reads: ``--since DURATION`` back from now, or ``--window FROM..TO``.

Every bound is UTC. ``--since`` takes a whole number and a unit (``30m``, ``24h``, ``7d``, ``2w``);
without either option the window is the spec's ``monitoring.frequency`` back from now (hourly
1h, daily 1d, weekly 7d, monthly 30d; any other or no frequency: 7d), so a scheduled run sees
each row once. ``--window`` takes ISO dates or datetimes; a date alone as ``TO`` means the end of
that day (the window ``2025-01-01..2025-01-31`` holds all of January). A datetime without a zone
is UTC. The window is ``[from, to)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mlgate.exceptions import InvalidInput

_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
FREQUENCY_WINDOWS = {"hourly": "1h", "daily": "1d", "weekly": "7d", "monthly": "30d"}
DEFAULT_SINCE = "7d"


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC, and how it was asked for (the MLflow run's ``window`` param)."""

    start: datetime
    end: datetime
    asked: str

    def as_dict(self) -> dict[str, str]:
        """``{"from", "to"}`` as ISO UTC (``...Z``), what the verdict holds."""
        return {"from": iso(self.start), "to": iso(self.end)}


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second: how mlgate writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` as a timedelta; anything else is bad input."""
    found = _DURATION.fullmatch(text.strip())
    if not found or int(found.group(1)) == 0:
        raise InvalidInput(f"--since {text!r}: expected a positive whole number and a unit m, h, d or w (e.g. 7d, 24h)")
    return int(found.group(1)) * _UNITS[found.group(2)]


def _moment(text: str, bound: str, *, end: bool) -> datetime:
    """One bound of ``--window``: a date (the start of that day; as the end, the start of the next) or a datetime."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise InvalidInput(
            f"--window: {bound} {text!r} is not an ISO date or datetime (e.g. 2025-01-31 or 2025-01-31T12:00:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resolve(since: str | None, window: str | None, frequency: str, now: datetime) -> Window:
    """The window asked for, checked: both options, a bad duration or an empty window are exit 2."""
    if since is not None and window is not None:
        raise InvalidInput("give --since or --window, not both")
    if window is not None:
        first, sep, last = window.partition("..")
        if not sep or not first.strip() or not last.strip():
            raise InvalidInput(f"--window {window!r}: expected FROM..TO (e.g. 2025-01-01..2025-01-31)")
        start, end = _moment(first, "FROM", end=False), _moment(last, "TO", end=True)
        if end <= start:
            raise InvalidInput(f"--window {window!r}: the end {iso(end)} is not after the start {iso(start)}")
        return Window(start, end, f"window {window}")
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    asked = since if since is not None else FREQUENCY_WINDOWS.get(frequency.strip().lower(), DEFAULT_SINCE)
    return Window(now - duration(asked), now, f"since {asked}")
