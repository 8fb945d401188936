"""`mlgate validate`: every spec, policy and release of a repo and their cross-references.

Problems are collected across all files rather than stopping at the first, so one run shows
everything a pull request has to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlgate.config import (
    MODELS_DIR,
    POLICIES_DIR,
    RELEASE_FILE,
    SPEC_FILE,
    display_path,
    load_model_context,
    load_policy,
    model_names,
    no_champion_stage,
)
from mlgate.data._dvc import load_model_data, load_predictions_data, stage_upstream
from mlgate.exceptions import Problem, SpecError


@dataclass
class ValidationReport:
    """What was checked and what is wrong."""

    root: Path
    models: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # valid, but likely not what was meant (exit 0)
    checked_data: bool = True

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """The report as ``mlgate validate --json`` prints it."""
        return {
            "ok": self.ok,
            "root": str(self.root),
            "models": self.models,
            "policies": self.policies,
            "checked_data": self.checked_data,
            "problems": [p.as_dict() for p in self.problems],
            "warnings": [w.as_dict() for w in self.warnings],
        }


def _orphan_releases(root: Path) -> list[Problem]:
    problems = []
    for release in sorted((root / MODELS_DIR).glob(f"*/{RELEASE_FILE}")):
        if not release.with_name(SPEC_FILE).is_file():
            shown = display_path(release, root)
            problems.append(Problem(shown, 0, 0, (), f"release without a spec: add {SPEC_FILE}"))
    return problems


def validate_repo(root: Path, *, check_data: bool = True) -> ValidationReport:
    """Validate every governance file under ``root``; never raises for input problems."""
    report = ValidationReport(root=root, checked_data=check_data)
    for path in sorted((root / POLICIES_DIR).glob("*.y*ml")):
        report.policies.append(display_path(path, root))
        try:
            load_policy(path, root)
        except SpecError as err:
            report.problems += err.problems
    for name in model_names(root):
        report.models.append(name)
        try:
            context = load_model_context(root, name)
            if context.policy.policy.promotion.champion_stage is None:
                message = f"model '{name}': {no_champion_stage(context.policy.file)}"
                report.warnings.append(Problem(context.policy.file, 0, 0, ("promotion", "order"), message))
            stage = context.spec.train.dvc_stage if context.spec.train is not None else None
            if stage is not None:  # the stage must be one DVC knows, before any job tries to run it
                try:
                    stage_upstream(root, stage)
                except LookupError as err:
                    report.problems.append(context.spec_doc.problem(("train", "dvc_stage"), str(err)))
            if check_data and context.spec.is_predictions:
                load_predictions_data(context.spec, context.spec_doc, root)
            elif check_data:
                load_model_data(context.spec, context.spec_doc, root)
        except SpecError as err:
            report.problems += err.problems
    report.problems += _orphan_releases(root)
    unique: dict[str, Problem] = {str(p): p for p in report.problems}
    report.problems = list(unique.values())
    return report
