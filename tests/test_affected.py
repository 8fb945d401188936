"""`mlgate affected` on real git history: the propose workflow's matrix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from conftest import PROJECT, git, invoke
from mlgate.config import matches


def commit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    git("commit", "-qam", f"edit {rel}", cwd=repo)


def affected(repo: Path, base: str, tmp_path: Path, *options: str) -> tuple[dict[str, list[str]], str]:
    out, outputs = tmp_path / "a.json", tmp_path / "github_output"
    outputs.write_text("")
    result = invoke(
        CliRunner(), "affected", "--base", base, *options, "--json", str(out), "--github-output", str(outputs), cwd=repo
    )
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), outputs.read_text()


def test_each_kind_of_change_selects_the_right_models(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {}
    assert "any=false" in outputs
    commit(governed_repo, "params.yaml", "insurance:", "insurance:\n  # tuned\n")  # comment only
    assert affected(governed_repo, base, tmp_path)[0] == {}, "a comment changes no params"
    commit(governed_repo, "policies/credit.yaml", "min: 0.70", "min: 0.72")
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {"credit": ["policies/credit.yaml"]}
    assert 'models=["credit"]' in outputs
    assert "any=true" in outputs
    commit(governed_repo, "policies/base.yaml", "max: 0.05", "max: 0.04")
    assert set(affected(governed_repo, base, tmp_path)[0]) == {"credit", "insurance"}


def test_data_change_selects_the_models_reading_it(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    pointer = governed_repo / "data/insurance.csv.dvc"
    pointer.write_text(pointer.read_text() + "# touched\n")
    git("commit", "-qam", "touch pointer", cwd=governed_repo)
    found, _ = affected(governed_repo, base, tmp_path)
    assert found == {"insurance": ["data/insurance.csv.dvc"]}


def test_unknown_base_says_to_fetch_history(governed_repo: Path) -> None:
    result = invoke(CliRunner(), "affected", "--base", "0" * 40, cwd=governed_repo)
    assert result.exit_code == 2
    assert "fetch-depth: 0" in result.output


def add(repo: Path, *rels: str) -> None:
    for rel in rels:
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\n")
    git("add", *rels, cwd=repo)
    git("commit", "-qm", f"add {', '.join(rels)}", cwd=repo)


def test_a_users_own_code_re_gates_nothing_by_default(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    add(governed_repo, "src/app/serve.py", "action/deploy/action.yml", "pyproject.toml")
    assert affected(governed_repo, base, tmp_path)[0] == {}, "src/, action/, pyproject.toml are the repo's own"
    add(governed_repo, "constraints.txt")  # the pins: the default that re-gates everything
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {"credit": ["constraints.txt"], "insurance": ["constraints.txt"]}
    assert 'models=["credit", "insurance"]' in outputs


def test_everything_patterns_replace_the_default(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    add(governed_repo, "src/mlgate/gate.py", "constraints.txt", "features/build.sql", "docs/notes.md")
    found, _ = affected(governed_repo, base, tmp_path, "--everything", "src/", "--everything", "features/*.sql")
    assert found == {name: ["features/build.sql", "src/mlgate/gate.py"] for name in ("credit", "insurance")}
    # this repository's propose workflow names mlgate's own code, actions and pins
    propose = (PROJECT / ".github/workflows/propose.yml").read_text()
    patterns = re.findall(r"--everything (\S+)", propose)
    assert patterns == ["src/", "action/", "pyproject.toml", "constraints.txt"]
    found, _ = affected(governed_repo, base, tmp_path, *(a for p in patterns for a in ("--everything", p)))
    assert found == {name: ["constraints.txt", "src/mlgate/gate.py"] for name in ("credit", "insurance")}


def test_everything_pattern_matching() -> None:
    assert matches("src/a/b.py", ["src/"])
    assert not matches("srcs/a.py", ["src/"])
    assert matches("pyproject.toml", ["pyproject.toml"])
    assert not matches("sub/pyproject.toml", ["pyproject.toml"])
    assert matches("sub/pyproject.toml", ["*pyproject.toml"])
    assert matches("src/a.py", ["./src/"])
    assert not matches("constraints.txt", [])


def _add_model(repo: Path, name: str, spec_edit: tuple[str, str], files: dict[str, str]) -> None:
    """A model copied from credit with one spec edit, plus ``files``, committed."""
    spec = (repo / "models/credit/model.yaml").read_text().replace("name: credit", f"name: {name}")
    assert spec_edit[0] in spec
    (repo / "models" / name).mkdir()
    (repo / "models" / name / "model.yaml").write_text(spec.replace(*spec_edit))
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", f"add {name}", cwd=repo)


def test_a_command_trained_model_is_affected_by_the_code_its_command_runs(governed_repo: Path, tmp_path: Path) -> None:
    command = ("estimator:\n  class: sklearn.ensemble.RandomForestClassifier", "train:\n  command: python train/own.py")
    _add_model(governed_repo, "own", command, {"train/own.py": "print('v1')\n", "train/helpers.py": "X = 1\n"})
    stage = ("estimator:\n  class: sklearn.ensemble.RandomForestClassifier", "train:\n  command: dvc repro fit-staged")
    dvc_yaml = governed_repo / "dvc.yaml"
    stage_yaml = "  fit-staged:\n    cmd: python pipeline/fit.py\n    deps:\n      - pipeline/\n      - params.yaml\n"
    _add_model(
        governed_repo,
        "staged",
        stage,
        {
            "pipeline/fit.py": "print('fit')\n",
            "dvc.yaml": dvc_yaml.read_text().replace("stages:\n", "stages:\n" + stage_yaml, 1),
        },
    )
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()

    commit(governed_repo, "train/own.py", "v1", "v2")
    found, _ = affected(governed_repo, base, tmp_path)
    assert found == {"own": ["train/own.py"]}, "the script named in the command; not a helper it may import"

    commit(governed_repo, "pipeline/fit.py", "fit", "fit again")
    found, _ = affected(governed_repo, base, tmp_path)
    assert found == {"own": ["train/own.py"], "staged": ["pipeline/fit.py"]}, "a file under the stage's deps folder"


def test_predictions_specs_are_listed_as_gate_only(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    commit(governed_repo, "policies/base.yaml", "max: 0.05", "max: 0.04")
    _, outputs = affected(governed_repo, base, tmp_path)
    assert "gate-only=[]" in outputs, "credit and insurance are trained"
    propose = (PROJECT / ".github/workflows/propose.yml").read_text()
    assert "!contains(fromJSON(needs.affected.outputs.gate-only), matrix.model)" in propose


def test_malformed_params_yaml_is_bad_input_naming_file_line_and_key(governed_repo: Path) -> None:
    # params.yaml at the head and the base is compared section by section: a syntax error there was exit 70
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    commit(governed_repo, "params.yaml", "insurance:\n", "insurance:\n  alpha: [1, 2\n")
    result = invoke(CliRunner(), "affected", "--base", base, cwd=governed_repo)
    assert result.exit_code == 2, result.output
    opened = 1 + (governed_repo / "params.yaml").read_text().splitlines().index("  alpha: [1, 2")
    assert (
        f"params.yaml (at HEAD):{opened + 1}:15: expected ',' or ']', but got ':' "
        f"(in the list opened at line {opened}, column 10" in result.output
    )
    git("reset", "-q", "--hard", base, cwd=governed_repo)
    # a duplicate key: PyYAML's safe_load kept the last one silently
    commit(governed_repo, "params.yaml", "insurance:\n", "insurance:\n  fit_intercept: true\n  fit_intercept: false\n")
    result = invoke(CliRunner(), "affected", "--base", base, cwd=governed_repo)
    assert result.exit_code == 2, result.output
    line = 1 + (governed_repo / "params.yaml").read_text().splitlines().index("  fit_intercept: false")
    assert f'params.yaml (at HEAD):{line}:3: found duplicate key "fit_intercept"' in result.output


def test_malformed_dvc_yaml_is_bad_input(governed_repo: Path, tmp_path: Path) -> None:
    # `dvc.yaml` is read for the deps of a `dvc repro` train command: a broken one is not "no deps"
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    _add_model(
        governed_repo,
        "reprod",
        ("estimator:\n  class: sklearn.ensemble.RandomForestClassifier", "train:\n  command: dvc repro reprod"),
        {"dvc.yaml": "stages:\n  reprod:\n    cmd: python x.py\n    deps: [a, b\n"},
    )
    result = invoke(CliRunner(), "affected", "--base", base, cwd=governed_repo)
    assert result.exit_code == 2, result.output
    assert "dvc.yaml:5:1: " in result.output


def test_malformed_dvc_pointer_is_bad_input_naming_file_line_and_key(governed_repo: Path) -> None:
    # a duplicate md5 in a pointer: PyYAML kept the last one, so the data checked was not the data reviewed
    pointer = governed_repo / "data/german_credit.csv.dvc"
    text = pointer.read_text()
    first = text.splitlines()[1]
    assert first.startswith("- md5: ")
    pointer.write_text(text.replace(first, first + "\n  md5: " + "0" * 32, 1))
    result = invoke(CliRunner(), "validate", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    assert 'data/german_credit.csv.dvc:3:3: found duplicate key "md5"' in result.output
