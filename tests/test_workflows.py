"""Static checks of the composite actions and workflows: the security rules of DESIGN.md.

These read the YAML as GitHub does; they fail on an expression inside `run:` (script
injection), an undeclared or too-wide permission, an unpinned third-party action, a job
without a timeout, or an undocumented input/output.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import PROJECT

ACTIONS = sorted((PROJECT / "action").glob("*/action.yml"))
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(\.\d+)*\s*$")
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return doc["runs"].get("steps", [])
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", ACTIONS + WORKFLOWS, ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_expression_inside_run_scripts(path: Path) -> None:
    for step in steps_of(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: pass values through env:, not ${{{{ }}}} in run: {step}"


@pytest.mark.parametrize("path", ACTIONS + WORKFLOWS, ids=lambda p: str(p.relative_to(PROJECT)))
def test_third_party_actions_are_pinned_by_sha_with_a_version_comment(path: Path) -> None:
    for line in path.read_text().splitlines():
        if re.match(r"^\s*-?\s*uses:", line) and "./" not in line:
            assert PINNED.match(line), f"{path.name}: pin by full commit SHA with a '# vX.Y.Z' comment: {line.strip()}"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_actions_are_composite_with_documented_kebab_case_io(path: Path) -> None:
    doc = load(path)
    assert doc["runs"]["using"] == "composite"
    for kind in ("inputs", "outputs"):
        for name, spec in (doc.get(kind) or {}).items():
            assert KEBAB.match(name), f"{path.parent.name}: {kind[:-1]} '{name}' is not kebab-case"
            assert spec.get("description"), f"{path.parent.name}: {kind[:-1]} '{name}' has no description"
    for step in steps_of(doc):
        if "run" in step:
            assert step.get("shell") == "bash", "composite run steps must name their shell"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_declare_least_privilege_and_timeouts(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") == {"contents": "read"}, "the workflow default must be read-only"
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, f"job '{name}' needs timeout-minutes"
        for scope, level in (job.get("permissions") or {}).items():
            assert level in ("read", "write", "none")
            assert scope in ("contents", "pull-requests", "checks", "issues", "actions"), scope


def test_propose_workflow_cancels_superseded_runs_and_writes_only_where_needed() -> None:
    doc = load(PROJECT / ".github/workflows/propose.yml")
    assert "pull_request" in doc["on"]
    assert "github.event.pull_request.number" in doc["concurrency"]["group"]
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert "permissions" not in doc["jobs"]["affected"], "finding models needs no write access"
    assert doc["jobs"]["model"]["permissions"] == {
        "contents": "read", "pull-requests": "write", "checks": "write",
    }
    assert doc["jobs"]["model"]["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.affected.outputs.models) }}"


def test_action_outputs_are_written_by_the_cli() -> None:
    """Every output an action declares is set by a step it runs (mlgate's --github-output)."""
    written = {"model-version", "run-id", "model-uri", "status", "verdict-path", "models", "any",
               "comment-url", "check-run-url", "ok", "changes"}
    for path in ACTIONS:
        doc = load(path)
        text = path.read_text()
        for name, spec in (doc.get("outputs") or {}).items():
            step = re.search(r"steps\.([\w-]+)\.outputs\.([\w-]+)", spec["value"])
            assert step, f"{path.parent.name}: output '{name}' is not wired to a step"
            assert step.group(2) in written or f"{step.group(2)}=" in text, (
                f"{path.parent.name}: nothing writes output '{step.group(2)}'"
            )


def test_policy_review_reruns_on_reviews_and_only_reads_the_pr() -> None:
    doc = load(PROJECT / ".github/workflows/policy-review.yml")
    assert doc["on"]["pull_request_review"]["types"] == ["submitted", "dismissed"]
    assert "pull_request" in doc["on"]
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "read", "checks": "write"}
    [run] = [s for s in job["steps"] if "run" in s]
    assert run["run"].startswith("mlgate policy-review ")


def test_setup_pulls_the_data_of_the_matrix_model() -> None:
    doc = load(PROJECT / ".github/workflows/propose.yml")
    [setup] = [s for s in doc["jobs"]["model"]["steps"] if s.get("uses") == "./action/setup"]
    assert setup["with"]["pull"] == "${{ matrix.model }}"


def test_promote_applies_one_at_a_time_and_never_cancels_an_apply() -> None:
    doc = load(PROJECT / ".github/workflows/promote.yml")
    assert doc["on"]["pull_request"]["paths"] == ["models/*/release.yaml"]
    assert doc["on"]["push"]["branches"] == ["main"]
    plan, apply = doc["jobs"]["plan"], doc["jobs"]["apply"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert apply["if"] == "github.event_name == 'push'"
    assert apply["concurrency"] == {"group": "promote-apply", "cancel-in-progress": False}
    assert plan["concurrency"]["cancel-in-progress"] is True
    assert apply["permissions"] == {"contents": "read", "pull-requests": "read"}
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write", "checks": "write"}
    modes = [s["with"]["mode"] for job in (plan, apply) for s in job["steps"] if s.get("uses") == "./action/promote"]
    assert modes == ["plan", "apply"]
