"""release.yaml's canary and shadow entries: the one writer, the one reader, the arm aliases.

The refusals (a candidate beside an empty stage, both kinds at once, a policy that allows none,
traffic above the policy's cap, a stage named like an arm) are cases of tests/test_malformed.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlgate.config import (
    ArmKind,
    CanaryPolicy,
    StageRequirement,
    arm_alias,
    duration_seconds,
    entry_at,
    release_at,
    remove_candidate,
    set_candidate,
    set_stage,
    split_alias,
)
from mlgate.exceptions import InvalidInput

D3 = "sha256:" + "3" * 64
D4 = "sha256:" + "4" * 64


def commit(repo: Path, message: str) -> str:
    subprocess.run(["git", "commit", "-qam", message], cwd=repo, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.parametrize(
    ("alias", "stage", "kind"),
    [
        ("production", "production", ArmKind.STABLE),
        ("production-canary", "production", ArmKind.CANARY),
        ("production-shadow", "production", ArmKind.SHADOW),
        ("pre-prod-canary", "pre-prod", ArmKind.CANARY),
        ("canary", "canary", ArmKind.STABLE),  # a stage may be called canary; only the suffix is an arm
        ("-canary", "-canary", ArmKind.STABLE),
    ],
)
def test_arm_aliases_round_trip(alias: str, stage: str, kind: ArmKind) -> None:
    assert split_alias(alias) == (stage, kind)
    if alias != "-canary":
        assert arm_alias(stage, kind) == alias


def test_writer_keeps_comments_and_the_reader_resolves_arm_aliases(governed_repo: Path) -> None:
    release = governed_repo / "models/credit/release.yaml"
    set_stage(governed_repo, "credit", "production", 3, D3)
    commit(governed_repo, "production v3")

    text = set_candidate(governed_repo, "credit", "production", ArmKind.CANARY, 4, D4, traffic=0.1)
    assert text.startswith("# Desired registry state"), text  # the file's comment survives
    assert f'canary:\n  production: {{version: 4, digest: "{D4}", traffic: 0.1}}\n' in text
    head = commit(governed_repo, "canary v4 at 10%")

    assert entry_at(governed_repo, "credit", "production", head).version == 3
    arm = entry_at(governed_repo, "credit", "production-canary", head)
    assert (arm.version, arm.digest) == (4, D4)
    assert entry_at(governed_repo, "credit", "production-shadow", head) is None
    candidate = release_at(governed_repo, "credit", head).candidate("production")
    assert (candidate.kind, candidate.version, candidate.traffic, candidate.alias) == (
        ArmKind.CANARY,
        4,
        0.1,
        "production-canary",
    )

    # a shadow replaces the canary: one candidate per stage
    text = set_candidate(governed_repo, "credit", "production", ArmKind.SHADOW, 4, D4)
    assert "canary:" not in text
    assert f'shadow:\n  production: {{version: 4, digest: "{D4}"}}\n' in text
    head = commit(governed_repo, "shadow instead")
    assert entry_at(governed_repo, "credit", "production-canary", head) is None
    assert entry_at(governed_repo, "credit", "production-shadow", head).version == 4

    before, text = remove_candidate(governed_repo, "credit", "production")
    assert before is not None
    assert before.kind == ArmKind.SHADOW
    assert "shadow" not in text
    assert "production: {version: 3" in text
    assert release.read_text() == text


def test_writer_refuses_a_canary_without_traffic(governed_repo: Path) -> None:
    set_stage(governed_repo, "credit", "production", 3, D3)
    with pytest.raises(InvalidInput, match="traffic"):
        set_candidate(governed_repo, "credit", "production", ArmKind.CANARY, 4, D4)
    with pytest.raises(InvalidInput, match="stable version"):
        set_candidate(governed_repo, "credit", "production", ArmKind.STABLE, 4, D4)


def test_candidate_requirement_defaults_to_the_stage() -> None:
    stage = StageRequirement.model_validate(
        {
            "require_gates": ["performance", "fairness"],
            "approvals": 1,
            "approvers": {"users": ["risk-officer"]},
            "canary": {"require_gates": ["performance"], "min_duration": "24h"},
        }
    )
    need = stage.candidate_requirement()
    assert need.require_gates == ["performance"]  # the canary block's own
    assert need.approvals == 1
    assert need.approvers.users == ["risk-officer"]
    assert stage.canary is not None
    assert stage.canary.min_duration_seconds == 86400
    assert isinstance(stage.canary, CanaryPolicy)
    assert stage.canary.compare.min_samples == 500
    assert duration_seconds("30m") == 1800
    assert duration_seconds("2w") == 14 * 86400
