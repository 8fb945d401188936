"""`mlgate monitored`: which models a scheduled monitoring run looks at, and whether each is due.

The monitor workflow runs on one cron (daily); each model's ``monitoring.frequency`` decides
inside the job whether this run is its turn, so one workflow serves models watched at different
rates and a change of frequency is a reviewed change to the spec, not to the workflow.

Rules, on the run's date (UTC): ``hourly`` and ``daily`` are due on every run (a schedule that
runs more often than daily is the workflow's cron, not the spec's word); ``weekly`` on Mondays;
``monthly`` on the 1st. An empty or unknown frequency is watched weekly and the row says so:
silence would be worse than a default.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mlgate.config import RELEASE_FILE, load_model_spec, load_release, model_names, spec_path
from mlgate.exceptions import InvalidInput

FREQUENCIES = ("hourly", "daily", "weekly", "monthly")
DEFAULT_FREQUENCY = "weekly"


def due(frequency: str, day: date) -> tuple[bool, str]:
    """Whether a model monitored at ``frequency`` is due on ``day``, and why (one sentence)."""
    word = frequency.strip().lower()
    note = ""
    if word not in FREQUENCIES:
        shown = f"'{frequency}'" if frequency.strip() else "empty"
        note = f"monitoring.frequency is {shown}, not one of {', '.join(FREQUENCIES)}: watched {DEFAULT_FREQUENCY}; "
        word = DEFAULT_FREQUENCY
    if word in ("hourly", "daily"):
        return True, f"{note}{word}: due on every run"
    if word == "weekly":
        is_due = day.weekday() == 0
        return is_due, f"{note}weekly: due on Mondays; {day.isoformat()} is a {day.strftime('%A')}"
    is_due = day.day == 1
    return is_due, f"{note}monthly: due on the 1st; {day.isoformat()} is day {day.day}"


def today() -> date:
    """The date of a scheduled run: UTC, as GitHub's cron reads it."""
    return datetime.now(UTC).date()


def monitored_models(
    root: Path,
    stage: str,
    *,
    due_on: date | None = None,
    every: bool = False,
    only: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The models whose release.yaml sets a version for ``stage``: one row each, with whether it is due.

    Rows: ``model``, ``stage``, ``version``, ``frequency`` (as the spec says it), ``due``,
    ``reason`` and ``candidate`` (the canary or shadow beside the stage: ``kind``, ``version``,
    ``traffic``; None without one — a candidate is compared on every run, whatever the frequency).
    ``every`` makes each row due (a run on demand); ``due_on`` defaults to today (UTC).
    ``only`` keeps the named models, each of which must set a version for ``stage`` (exit 2).
    A spec or release that does not load is an error (exit 2): a model must not drop out of
    monitoring silently.
    """
    day = due_on or today()
    names = model_names(root)
    unknown = [n for n in only if n not in names]
    if unknown:
        raise InvalidInput(
            f"no spec for model(s) {', '.join(unknown)}", hint=f"models in this repo: {', '.join(names) or 'none'}"
        )
    rows = []
    for name in (n for n in names if not only or n in only):
        release_file = spec_path(root, name).with_name(RELEASE_FILE)
        candidate = None
        if not release_file.is_file():
            version = None
        else:
            release, _ = load_release(release_file, root)
            version = release.versions().get(stage)
            found = release.candidate(stage)
            if found is not None:
                candidate = {"kind": str(found.kind), "version": found.version, "traffic": found.traffic}
        if version is None:
            if only:
                raise InvalidInput(
                    f"models/{name}/{RELEASE_FILE} sets no version for '{stage}': nothing to monitor there",
                    hint=f"promote a version to {stage} first, or pick another --stage",
                )
            continue
        spec, _ = load_model_spec(spec_path(root, name), root)
        frequency = spec.monitoring.frequency if spec.monitoring else ""
        is_due, reason = (True, "every model on demand (--all)") if every else due(frequency, day)
        rows.append(
            {
                "model": name,
                "stage": stage,
                "version": version,
                "frequency": frequency,
                "due": is_due,
                "reason": reason,
                "candidate": candidate,
            }
        )
    return rows
