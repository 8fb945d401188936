"""Static checks of the composite actions and workflows: the security rules of DESIGN.md.

These read the YAML as GitHub does; they fail on an expression inside `run:` (script
injection), an undeclared or too-wide permission, an unpinned third-party action, a job
without a timeout, or an undocumented input/output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import PROJECT
from mlgate.cli import write_outputs
from mlgate.data import TEMPLATES, WorkflowParams, render_workflow

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
    assert doc.get("permissions") in ({"contents": "read"}, {}), "the workflow default must be read-only (or none)"
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, f"job '{name}' needs timeout-minutes"
        for scope, level in (job.get("permissions") or {}).items():
            assert level in ("read", "write", "none")
            if (path.name, name) == ("site.yml", "deploy"):  # Pages: the one job that publishes
                assert scope in ("pages", "id-token"), scope
                continue
            assert scope in ("contents", "pull-requests", "checks", "issues", "actions"), scope


def test_propose_workflow_cancels_superseded_runs_and_writes_only_where_needed() -> None:
    doc = load(PROJECT / ".github/workflows/propose.yml")
    assert "pull_request" in doc["on"]
    assert "github.event.pull_request.number" in doc["concurrency"]["group"]
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert "permissions" not in doc["jobs"]["affected"], "finding models needs no write access"
    assert doc["jobs"]["model"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "checks": "write",
    }
    assert doc["jobs"]["model"]["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.affected.outputs.models) }}"


def test_action_outputs_are_written_by_the_cli() -> None:
    """Every output an action declares is set by a step it runs (mlgate's --github-output)."""
    written = {
        "model-version",
        "run-id",
        "model-uri",
        "status",
        "verdict-path",
        "models",
        "any",
        "comment-url",
        "check-run-url",
        "ok",
        "changes",
        "change-count",
    }
    for path in ACTIONS:
        doc = load(path)
        text = path.read_text()
        for name, spec in (doc.get("outputs") or {}).items():
            step = re.search(r"steps\.([\w-]+)\.outputs\.([\w-]+)", spec["value"])
            assert step, f"{path.parent.name}: output '{name}' is not wired to a step"
            assert step.group(2) in written or f"{step.group(2)}=" in text, (
                f"{path.parent.name}: nothing writes output '{step.group(2)}'"
            )


GOVERNANCE = PROJECT / ".github/workflows/governance.yml"
BASE_SHA = "${{ github.event.pull_request.base.sha }}"


def _governance_job() -> dict[str, Any]:
    [job] = load(GOVERNANCE)["jobs"].values()
    return job


def test_governance_runs_the_base_definition_on_pr_and_review_events_only() -> None:
    doc = load(GOVERNANCE)
    assert doc["on"] == {
        "pull_request_target": {"types": ["opened", "synchronize", "reopened", "ready_for_review"]},
        "pull_request_review": {"types": ["submitted", "dismissed"]},
    }
    assert doc["permissions"] == {}
    assert doc["concurrency"]["group"] == "governance-${{ github.event.pull_request.number }}"
    job = _governance_job()
    assert job["permissions"] == {"contents": "read", "pull-requests": "read", "checks": "write"}
    [run] = [s for s in job["steps"] if "mlgate " in s.get("run", "")]
    assert run["run"].startswith("mlgate governance ")


def test_governance_checks_out_only_the_base_without_credentials() -> None:
    steps = _governance_job()["steps"]
    checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts, "the job must check out the base"
    for step in checkouts:
        options = step.get("with") or {}
        assert options.get("ref", BASE_SHA) == BASE_SHA, f"checkout of a ref other than the base: {step}"
        assert options.get("persist-credentials") is False, f"checkout must not persist the token: {step}"
        assert "path" not in options, step
        assert "repository" not in options, step
        if "ref" not in options:  # the default ref is the base only under pull_request_target
            assert step["if"] == "github.event_name == 'pull_request_target'", step
    assert [s["if"] for s in checkouts] == [
        "github.event_name == 'pull_request_target'",
        "github.event_name == 'pull_request_review'",
    ]
    # the PR's head reaches the job only as a value in env: of a run step, never as a ref or path
    for step in steps:
        outside_env = {k: v for k, v in step.items() if k != "env"}
        text = str(outside_env)
        assert "pull_request.head" not in text, step
        assert "head_ref" not in text, step
        assert "${{" not in str(step.get("uses", "")), step
    text = GOVERNANCE.read_text()
    assert "github.head_ref" not in text
    assert [line.strip() for line in text.splitlines() if "pull_request.head" in line] == [
        "HEAD_SHA: ${{ github.event.pull_request.head.sha }}"
    ]


def test_governance_never_checks_out_installs_or_runs_the_pr() -> None:
    steps = _governance_job()["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    # local actions resolve in the workspace, which is the base checkout (tested above)
    assert uses == ["actions/checkout", "actions/checkout", "./action/setup"]
    assert steps.index(next(s for s in steps if s.get("uses") == "./action/setup")) > 1
    runs = [s["run"] for s in steps if "run" in s]
    for script in runs:
        assert "${{" not in script
        assert not re.search(r"\b(pip3?|uv|pipx|easy_install)\b", script), (
            "install mlgate only from the base checkout (action/setup)"
        )
        for verb in ("checkout", "switch", "worktree", "reset", "restore", "merge", "pull ", "am ", "apply"):
            assert f"git {verb}" not in script, f"never bring the PR into the workspace: git {verb}"
    [fetch] = [r for r in runs if "git fetch" in r]
    assert 'git fetch --no-tags origin "+refs/pull/${PR}/head"' in fetch
    # action/setup installs the mlgate its own checkout holds, and nothing else
    setup = (PROJECT / "action/setup/action.yml").read_text()
    assert "MLGATE_SOURCE: ${{ github.action_path }}/../.." in setup
    installs = [line.strip() for line in setup.splitlines() if "pip" in line and "install" in line]
    assert installs == ['"$MLGATE_VENV/bin/pip" install --quiet -c "$MLGATE_SOURCE/constraints.txt" "$spec"']


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


def _cache_key(source: Path, tmp_path: Path) -> str:
    """Run the setup action's "Cache key" step as the runner would, on ``source``."""
    [step] = [s for s in load(PROJECT / "action/setup/action.yml")["runs"]["steps"] if s.get("id") == "key"]
    assert step["env"]["MLGATE_SOURCE"] == "${{ github.action_path }}/../.."
    output = tmp_path / "github_output"
    output.write_text("")
    env = {"PATH": os.environ["PATH"], "MLGATE_SOURCE": str(source), "GITHUB_OUTPUT": str(output)}
    subprocess.run(["bash", "-c", step["run"]], env=env, check=True, cwd=tmp_path)
    [line] = output.read_text().splitlines()
    assert re.fullmatch(r"hash=[0-9a-f]{64}", line), line
    return line.removeprefix("hash=")


def test_setup_cache_key_hashes_the_pins_and_mlgates_source(tmp_path: Path) -> None:
    source = tmp_path / "mlgate"
    for rel in ("constraints.txt", "pyproject.toml", "src/mlgate/__init__.py", "src/mlgate/gates/_run.py"):
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / rel, source / rel)
    key = _cache_key(source, tmp_path)
    assert _cache_key(source, tmp_path) == key, "stable"
    (source / "src/mlgate/gates/__pycache__").mkdir()
    (source / "src/mlgate/gates/__pycache__/run.cpython-311.pyc").write_bytes(b"\0")
    assert _cache_key(source, tmp_path) == key, "bytecode is not source"
    gate = source / "src/mlgate/gates/_run.py"
    gate.write_text(gate.read_text() + "\n# a change to mlgate's code\n")
    changed = _cache_key(source, tmp_path)
    assert changed != key, "a change to mlgate's code must not restore the old venv"
    (source / "src/mlgate/new.py").write_text("")
    assert _cache_key(source, tmp_path) not in (key, changed), "a new module too"
    before = _cache_key(source, tmp_path)
    (source / "constraints.txt").write_text((source / "constraints.txt").read_text() + "extra==1\n")
    assert _cache_key(source, tmp_path) != before, "the pins"
    shutil.rmtree(source / "src")
    assert _cache_key(source, tmp_path), "no src/ (a checkout of the actions only): still a key"


def test_report_action_renders_and_publishes_in_one_call() -> None:
    [step] = load(PROJECT / "action/report/action.yml")["runs"]["steps"]
    script = step["run"]
    assert script.count("mlgate ") == 1, script
    for option in (
        "--markdown",
        "--html",
        '--summary "$GITHUB_STEP_SUMMARY"',
        "--check-run-sha",
        "--github-output",
        "--pr",
    ):
        assert option in script, option


INIT_WORKFLOWS = list(TEMPLATES)  # rendered as `mlgate init` writes them
MLGATE_ACTION = re.compile(
    r"^\s*-?\s*uses:\s*<owner>/<repo>/action/(setup|train|gate|report|promote|monitor)@v1(\s+#.*)?$"
)


@pytest.mark.parametrize("name", INIT_WORKFLOWS)
def test_init_workflows_follow_the_same_rules(name: str, tmp_path: Path) -> None:
    """The workflows `mlgate init` writes: the rules above, with mlgate's own actions by tag."""
    path = tmp_path / f"mlgate-{name}.yml"
    path.write_text(render_workflow(name, WorkflowParams.scaffold()))
    doc = load(path)
    assert doc.get("permissions") in ({"contents": "read"}, {})
    for job_name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, f"job '{job_name}' needs timeout-minutes"
        for scope, level in (job.get("permissions") or {}).items():
            assert level in ("read", "write", "none")
            if (name, job_name) == ("site", "deploy"):
                assert scope in ("pages", "id-token"), scope
                continue
            assert scope in ("contents", "pull-requests", "checks", "issues"), scope
    for step in steps_of(doc):
        assert "${{" not in step.get("run", ""), step
    for line in path.read_text().splitlines():
        if re.match(r"^\s*-?\s*uses:", line):
            assert PINNED.match(line) or MLGATE_ACTION.match(line), line
            if MLGATE_ACTION.match(line):
                action = MLGATE_ACTION.match(line).group(1)
                assert (PROJECT / "action" / action / "action.yml").is_file(), action


def test_score_runs_daily_over_production_models_and_writes_nothing() -> None:
    doc = load(PROJECT / ".github/workflows/score.yml")
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"}
    assert doc["permissions"] == {"contents": "read"}
    models, score = doc["jobs"]["models"], doc["jobs"]["score"]
    assert "permissions" not in models
    assert "permissions" not in score
    assert score["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.models.outputs.models) }}"
    assert score["strategy"]["fail-fast"] is False
    [run] = [s["run"] for s in score["steps"] if "mlgate score" in s.get("run", "")]
    # the documented CLI: the production alias's version, an input and an output file
    assert re.search(r'mlgate score "\$MLGATE_MODEL" --stage production', run)
    assert "--input " in run
    assert "--output " in run
    assert score["env"]["MLGATE_MODEL"] == "${{ matrix.model }}"
    [lister] = [s for s in models["steps"] if s.get("id") == "production"]
    assert '.get("production") is not None' in lister["run"]  # only models release.yaml sends to production
    for job in (models, score):
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_deploy_acts_on_the_dispatch_reading_the_payload_through_env_only() -> None:
    doc = load(PROJECT / ".github/workflows/deploy.yml")
    assert doc["on"] == {"repository_dispatch": {"types": ["mlgate-promoted"]}}
    from mlgate.promotion import EVENT_TYPE

    assert doc["on"]["repository_dispatch"]["types"] == [EVENT_TYPE]  # one source: the hook's event name
    assert doc["permissions"] == {}
    job = doc["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read"}
    assert doc["concurrency"]["cancel-in-progress"] is False
    assert "client_payload.model" in doc["concurrency"]["group"]
    assert "client_payload.stage" in doc["concurrency"]["group"]
    payload_keys = {
        v.removeprefix("${{ github.event.client_payload.").removesuffix(" }}")
        for v in job["env"].values()
        if "client_payload" in v
    }
    from mlgate.promotion import change_output
    from mlgate.registry import Record

    record = Record("credit", "production", 2, 1, "promote", "a" * 40, 8, [], "ci", "2026-01-01T00:00:00Z")
    sent = change_output(record)
    assert payload_keys <= set(sent), "deploy.yml reads a key the hook does not send"
    assert job["env"]["ARM"] == "${{ github.event.client_payload.arm }}"  # a candidate's change goes to its arm
    assert len(sent) <= 10  # GitHub's limit on client_payload's top-level keys
    for step in job["steps"]:
        assert "client_payload" not in step.get("run", "")


def test_promote_action_passes_the_hook_switches_through_env() -> None:
    doc = load(PROJECT / "action/promote/action.yml")
    assert {"dispatch", "gto-tags"} <= set(doc["inputs"])
    assert {"changes", "change-count"} <= set(doc["outputs"])
    [step] = doc["runs"]["steps"]
    assert step["env"]["MLGATE_DISPATCH"] == "${{ inputs.dispatch }}"
    assert step["env"]["MLGATE_GTO_TAGS"] == "${{ inputs.gto-tags }}"
    assert "args+=(--dispatch)" in step["run"]
    assert "args+=(--gto-tags)" in step["run"]


MONITOR = PROJECT / ".github/workflows/monitor.yml"


def test_monitor_runs_daily_and_on_demand_with_the_documented_inputs() -> None:
    doc = load(MONITOR)
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"}
    [cron] = doc["on"]["schedule"]
    assert cron["cron"] == "17 5 * * *"  # daily; each model's frequency decides inside the run
    assert "mlgate monitored" in MONITOR.read_text().split("- cron:")[0], "the cron comment names the rule"
    inputs = doc["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"model", "stage", "all"}
    assert inputs["stage"]["default"] == "production"
    assert inputs["all"]["type"] == "boolean"
    assert doc["permissions"] == {}


def test_monitor_jobs_have_least_privilege_and_only_retrain_writes_code() -> None:
    jobs = load(MONITOR)["jobs"]
    assert set(jobs) == {"plan", "monitor", "retrain", "compare", "custody"}
    assert jobs["plan"]["permissions"] == {"contents": "read"}
    assert jobs["monitor"]["permissions"] == {"contents": "read", "issues": "write"}
    assert jobs["custody"]["permissions"] == {"contents": "read", "issues": "write"}
    assert jobs["retrain"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert jobs["compare"]["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write"}
    for name, job in jobs.items():
        if name not in ("retrain", "compare"):
            assert job["permissions"].get("contents") == "read", name
            assert "pull-requests" not in job["permissions"], name
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (name, step)


def test_monitor_matrix_comes_from_the_plan_and_an_empty_plan_skips_it() -> None:
    jobs = load(MONITOR)["jobs"]
    [lister] = [s for s in jobs["plan"]["steps"] if s.get("id") == "monitored"]
    assert "mlgate monitored " in lister["run"]
    assert '--github-output "$GITHUB_OUTPUT"' in lister["run"]
    assert jobs["plan"]["outputs"] == {
        "models": "${{ steps.monitored.outputs.models }}",
        "any": "${{ steps.monitored.outputs.any }}",
        "candidates": "${{ steps.monitored.outputs.candidates }}",
        "any-candidate": "${{ steps.monitored.outputs.any-candidate }}",
    }
    for name in ("monitor", "retrain"):
        job = jobs[name]
        assert job["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.plan.outputs.models) }}"
        assert job["strategy"]["fail-fast"] is False
        assert "needs.plan.outputs.any == 'true'" in job["if"]
        assert job["concurrency"]["cancel-in-progress"] is False
        assert "matrix.model" in job["concurrency"]["group"]
    assert "inputs.stage" in jobs["monitor"]["concurrency"]["group"], "per model and stage"
    assert jobs["retrain"]["if"].startswith("always()"), "a red monitor job is when retraining is due"
    assert jobs["retrain"]["needs"] == ["plan", "monitor"]


def test_monitor_runs_the_cli_and_keeps_the_verdict_even_on_a_breach() -> None:
    jobs = load(MONITOR)["jobs"]
    [action] = [s for s in jobs["monitor"]["steps"] if s.get("uses") == "./action/monitor"]
    assert action["with"]["model"] == "${{ matrix.model }}"
    assert action["with"]["alert"] == "true"
    assert "continue-on-error" not in action, "a blocking breach fails the job: a red run is a signal"
    [upload] = [s for s in jobs["monitor"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"].startswith("always()")
    assert upload["with"]["name"] == "monitor-verdict-${{ matrix.model }}"
    steps = jobs["retrain"]["steps"]
    [download] = [s for s in steps if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"]["name"] == upload["with"]["name"]
    [propose] = [s for s in steps if "--propose-retrain" in s.get("run", "")]
    assert re.search(
        r'mlgate monitor "\$MLGATE_MODEL" --stage "\$MLGATE_STAGE" --from-verdict "\$MLGATE_VERDICT" '
        r"--propose-retrain --json -",
        propose["run"],
    )
    assert propose["env"]["MLGATE_VERDICT"] == "${{ steps.decide.outputs.path }}"  # the monitor job's, not re-measured
    assert propose["if"] == "steps.decide.outputs.triggered == 'true'"
    # GitHub starts no workflow for what the job's own token pushes or opens: a token of its own
    # (optional) makes propose.yml gate the retraining pull request; the push and the PR use it alike
    retrain_token = "${{ secrets.MLGATE_RETRAIN_TOKEN || github.token }}"
    assert propose["env"]["GITHUB_TOKEN"] == retrain_token
    [checkout] = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"] == {"token": retrain_token}, "persisted credentials: mlgate pushes with them"
    assert jobs["retrain"]["env"]["MLGATE_MODEL"] == "${{ matrix.model }}"
    script = (PROJECT / "action/monitor/action.yml").read_text()
    assert "args+=(--alert)" in script
    assert "args+=(--propose-retrain)" in script


def test_monitor_passes_inputs_through_env_only() -> None:
    doc = load(MONITOR)
    for job in doc["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step
            for key in ("inputs.", "matrix.", "github.event"):
                assert key not in step.get("run", ""), (key, step)


def test_the_compare_job_runs_for_each_candidate_and_opens_the_pull_requests() -> None:
    job = load(MONITOR)["jobs"]["compare"]
    assert job["needs"] == "plan"
    assert job["if"].split("#")[0].strip() == "needs.plan.outputs.any-candidate == 'true'"
    assert job["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.plan.outputs.candidates) }}"
    assert job["strategy"]["fail-fast"] is False
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "matrix.model" in job["concurrency"]["group"]
    [step] = [s for s in job["steps"] if "run" in s]
    assert "--compare --propose --alert" in step["run"]
    assert step["env"]["GITHUB_TOKEN"] == "${{ secrets.MLGATE_RETRAIN_TOKEN || github.token }}"
    assert 'exit "$code"' in step["run"], "an abort fails the job after the summary is written"
    # the verdict and report are kept, an abort's too (tests/test_act.py reads them from this artifact)
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == f"always() && steps.{step['id']}.outcome != 'skipped'"
    assert upload["with"]["name"] == "compare-verdict-${{ matrix.model }}"
    assert upload["with"]["path"] == step["env"]["MLGATE_OUT"]


def test_the_custody_job_checks_the_registry_against_git_on_the_schedule() -> None:
    doc = load(MONITOR)
    job = doc["jobs"]["custody"]
    assert "schedule" in doc["on"]
    assert "needs" not in job, "it runs whether or not a model is due for monitoring"
    [check] = [s for s in job["steps"] if "run" in s]
    [command] = [line.split() for line in check["run"].splitlines() if line.startswith("mlgate ")]
    assert command == ["mlgate", "status", "--check", "--alert", "--json", '"$MLGATE_OUT/status.json"']
    assert check["run"].startswith("set -euo pipefail\n"), "the check's exit code is the step's"
    assert check["env"] == {"GITHUB_TOKEN": "${{ github.token }}", "MLGATE_OUT": "${{ runner.temp }}/custody"}
    assert job["concurrency"]["cancel-in-progress"] is False
    # every stage's row is kept, a red check's too (tests/test_act.py reads them from this artifact)
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == f"always() && steps.{check['id']}.outcome != 'skipped'"
    assert upload["with"]["name"] == "custody-status"
    assert upload["with"]["path"] == check["env"]["MLGATE_OUT"]
    assert upload["with"]["if-no-files-found"] == "ignore"


def github_outputs(path: Path) -> dict[str, str]:
    """A ``$GITHUB_OUTPUT`` file read as the runner reads it: ``key=value`` and ``key<<DELIMITER`` blocks."""
    found: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, end = line.split("<<", 1)
            found[key] = "\n".join(iter(lambda: next(lines), end))
        else:
            key, value = line.split("=", 1)
            found[key] = value
    return found


def test_multi_line_outputs_end_with_a_delimiter_no_value_can_hold(tmp_path: Path) -> None:
    """A value that holds the old fixed delimiter (an attacker's file name, a reason) cannot end its block early."""
    out = tmp_path / "github_output"
    hostile = "first\nMLGATE_EOF\nstatus=pass\nlast"
    write_outputs(str(out), {"reason": hostile, "status": "fail"})
    write_outputs(str(out), {"other": "a\nb"})
    assert github_outputs(out) == {"reason": hostile, "status": "fail", "other": "a\nb"}
    delimiters = [line.split("<<", 1)[1] for line in out.read_text().splitlines() if "<<" in line]
    assert len(delimiters) == 2
    assert delimiters[0] != delimiters[1], "a new random delimiter for each value"
    assert all(re.fullmatch(r"MLGATE_EOF_[0-9a-f]{32}", d) for d in delimiters), delimiters


SITE = PROJECT / ".github/workflows/site.yml"
PAGES_ACTIONS = ("actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages")


def test_site_builds_after_each_applied_promotion_daily_and_on_demand() -> None:
    doc = load(SITE)
    assert doc["on"]["workflow_run"] == {"workflows": ["promote"], "types": ["completed"], "branches": ["main"]}
    assert load(PROJECT / ".github/workflows/promote.yml")["name"] == "promote", "workflow_run names it"
    [cron] = doc["on"]["schedule"]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", cron["cron"]), cron  # daily
    assert "workflow_dispatch" in doc["on"]
    assert doc["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build = doc["jobs"]["build"]
    # a promote run that failed, or a plan on a pull request, changed nothing: no build
    assert "github.event.workflow_run.conclusion == 'success'" in build["if"]
    assert "github.event.workflow_run.event == 'push'" in build["if"]
    assert build["if"].startswith("github.event_name != 'workflow_run' ||")


def test_site_only_the_deploy_job_may_write_pages_or_mint_an_oidc_token() -> None:
    doc = load(SITE)
    assert doc["permissions"] == {"contents": "read"}
    assert set(doc["jobs"]) == {"build", "deploy"}
    build, deploy = doc["jobs"]["build"], doc["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read", "issues": "read"}  # issues: the open alerts it lists
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert deploy["environment"] == {"name": "github-pages", "url": "${{ steps.deployment.outputs.page_url }}"}
    # the deploy job runs nothing of the repository: no checkout, no script, only the Pages action
    [step] = deploy["steps"]
    assert step["id"] == "deployment"
    assert step["uses"].split("@")[0] == "actions/deploy-pages"
    for path in WORKFLOWS:  # and no other job of any workflow holds these scopes
        for name, job in load(path)["jobs"].items():
            if (path.name, name) != ("site.yml", "deploy"):
                scopes = set(job.get("permissions") or {}) | set(load(path).get("permissions") or {})
                assert not scopes & {"pages", "id-token"}, (path.name, name)


def test_site_pins_the_official_pages_actions_and_builds_with_the_registry_secrets_in_env() -> None:
    text = SITE.read_text()
    for action in PAGES_ACTIONS:
        [line] = [line for line in text.splitlines() if f"uses: {action}@" in line]
        assert PINNED.match(line), line
    steps = load(SITE)["jobs"]["build"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "./action/setup", "actions/cache", *PAGES_ACTIONS[:2]]
    [checkout] = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["persist-credentials"] is False
    [cache] = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert cache["with"]["path"] == "_site/.mlgate-site"
    assert cache["with"]["key"].startswith("mlgate-site-${{ github.run_id }}")  # a new entry each run
    assert cache["with"]["restore-keys"] == "mlgate-site-"  # the newest one restored
    [build] = [s for s in steps if "mlgate site" in s.get("run", "")]
    assert build["run"] == "mlgate site --output _site"
    assert build["env"] == {
        "MLFLOW_TRACKING_URI": "${{ vars.MLFLOW_TRACKING_URI }}",
        "MLFLOW_TRACKING_TOKEN": "${{ secrets.MLFLOW_TRACKING_TOKEN }}",
        "GITHUB_TOKEN": "${{ github.token }}",
    }
    assert "secrets." not in str([s for s in steps if s is not build]), "the token reaches the build step only"
    # the published folder is the site without its incremental state
    [upload] = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    [copy] = [s for s in steps if ".mlgate-site" in s.get("run", "")]
    assert upload["with"]["path"] == copy["env"]["MLGATE_PAGES"] == "${{ runner.temp }}/pages"
    assert "--exclude=./.mlgate-site" in copy["run"]
