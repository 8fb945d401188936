"""Specs, policies and releases: the shipped examples parse, `extends` merges, schemas are published."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from conftest import PROJECT, invoke
from mlgate.config import (
    GATE_FAMILIES,
    ModelSpec,
    Policy,
    Release,
    json_schemas,
    load,
    load_policy,
    model_names,
    rule_id,
)
from mlgate.config import parse_model as parse
from mlgate.exceptions import SpecError

SCHEMAS = PROJECT / "src" / "mlgate" / "resources" / "schemas"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["credit", "insurance", "income"])
def test_example_specs_parse(name: str) -> None:
    doc = load(PROJECT / "models" / name / "model.yaml")
    spec: ModelSpec = parse(ModelSpec, doc)
    assert spec.name == name
    assert spec.features.all, "an example model must have features"
    release: Release = parse(Release, load(PROJECT / "models" / name / "release.yaml"))
    assert release.model == name


def test_example_repo_lists_its_models() -> None:
    assert model_names(PROJECT) == ["credit", "income", "insurance"]


def test_credit_policy_extends_base_and_overrides_by_rule_id() -> None:
    resolved = load_policy(PROJECT / "policies" / "credit.yaml", PROJECT)
    assert resolved.files == ("policies/base.yaml", "policies/credit.yaml")
    ids = {f: [rule_id(f, r) for r in resolved.policy.gates.rules(f)] for f in GATE_FAMILIES}
    # base contributes documentation, integrity and drift; credit adds performance and fairness
    assert "documentation.monitoring.owner" in ids["documentation"]
    assert "integrity.null_fraction" in ids["integrity"]
    assert "four-fifths" in ids["fairness"]
    assert resolved.policy.promotion.stages["production"].approvals == 1
    assert len(resolved.sha256) == 64


def test_child_rule_with_same_id_replaces_base_rule(tmp_path: Path) -> None:
    _write(tmp_path / "policies/base.yaml", "gates:\n  drift:\n    - metric: drifted_share\n      max: 0.3\n")
    _write(
        tmp_path / "policies/strict.yaml",
        "extends: base.yaml\ngates:\n  drift:\n    - metric: drifted_share\n      max: 0.1\n"
        "settings:\n  drift:\n    psi_bins: 20\n",
    )
    resolved = load_policy(tmp_path / "policies/strict.yaml", tmp_path)
    rules = resolved.policy.gates.rules("drift")
    assert len(rules) == 1, "the child rule must replace, not duplicate, the base rule"
    assert rules[0].max == pytest.approx(0.1)
    assert resolved.policy.settings.drift.psi_bins == 20
    base_only = load_policy(tmp_path / "policies/base.yaml", tmp_path)
    assert base_only.sha256 != resolved.sha256, "the policy hash must follow the effective rules"


def test_duplicate_keys_are_an_error_not_last_one_wins(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.yaml", "gates:\n  drift:\n    - metric: psi\n      max: 0.2\n      max: 0.9\n")
    with pytest.raises(SpecError) as caught:
        load(path, "p.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("p.yaml", 5)
    assert 'duplicate key "max"' in problem.message


def test_unknown_key_names_line_column_path_and_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.yaml", "gates:\n  fairness:\n    - metric: demographic_parity_ratio\n      mni: 0.8\n")
    with pytest.raises(SpecError) as caught:
        parse(Policy, load(path, "policies/default.yaml"))
    messages = [str(p) for p in caught.value.problems]
    assert "policies/default.yaml:4:7: gates -> fairness -> 0 -> mni: unknown key (did you mean 'min'?)" in messages


def test_release_versions_must_be_positive_integers(tmp_path: Path) -> None:
    path = _write(tmp_path / "release.yaml", "model: credit\nstages:\n  staging: 2\n  production: '1'\n")
    with pytest.raises(SpecError) as caught:
        parse(Release, load(path, "release.yaml"))
    [problem] = caught.value.problems
    assert problem.loc == ("stages", "production")
    assert problem.line == 4


@pytest.mark.parametrize("kind", ["model", "policy", "release"])
def test_shipped_schema_files_match_the_models(kind: str) -> None:
    shipped = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    assert shipped == json_schemas()[kind], (
        f"regenerate: mlgate schema --kind {kind} --json src/mlgate/resources/schemas/{kind}.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(shipped)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("model", "models/credit/model.yaml"),
        ("model", "models/insurance/model.yaml"),
        ("policy", "policies/base.yaml"),
        ("policy", "policies/credit.yaml"),
        ("release", "models/credit/release.yaml"),
    ],
)
def test_examples_validate_against_published_schema(kind: str, path: str) -> None:
    """Editors and other tools get the same answer from the JSON Schema as from mlgate."""
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.validate(load(PROJECT / path).data, schema)


def test_schema_rejects_unknown_keys_like_mlgate_does() -> None:
    schema = json.loads((SCHEMAS / "policy.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"gates": {"fairness": [{"metric": "x", "mni": 0.8}]}}, schema)


def test_schema_command_prints_json(cli) -> None:
    result = invoke(cli, "schema", "--kind", "release")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json_schemas()["release"]


def test_validate_passes_on_the_project_itself(cli) -> None:
    result = invoke(cli, "validate", str(PROJECT), "--json", "-")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert sorted(report["models"]) == ["credit", "income", "insurance"]
