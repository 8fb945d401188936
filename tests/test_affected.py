"""`mlgate affected` on real git history: the propose workflow's matrix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from conftest import PROJECT, dvc, git, invoke
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
    assert "dvc.yaml (at HEAD):5:1: " in result.output


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


# ----------------------------------------------------------------------------- DVC pipelines (issue #23)

PIPELINE = """\
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
      - data/data.xml
      - src/prepare.py
    params:
      - prepare.seed
      - prepare.split
    outs:
      - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
      - data/prepared
      - src/featurization.py
    params:
      - featurize.max_features
      - features.yaml:
          - ngrams.max
      - lexicon.json:
    outs:
      - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
      - data/features
      - src/train.py
    params:
      - train
    outs:
      - model.pkl
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
      - data/features
      - model.pkl
      - src/evaluate.py
    metrics:
      - eval/metrics.json:
          cache: false
"""

PIPELINE_PARAMS = """\
prepare:
  split: 0.2
  seed: 20170428
featurize:
  max_features: 100
  unused: 1
train:
  seed: 20170428
  n_est: 50
  min_split: 0.01
  forest:
    depth: 4
"""


def _pipeline_repo(repo: Path, train: str = "command: dvc repro train") -> str:
    """``repo`` with an example-get-started-shaped pipeline and a model ``pipe`` trained by its train stage."""
    params = (repo / "params.yaml").read_text() + PIPELINE_PARAMS
    files = {
        "dvc.yaml": PIPELINE,
        "params.yaml": params,
        "features.yaml": "ngrams:\n  max: 2\n  min: 1\n",
        "lexicon.json": '{"stop": ["a", "the"], "lang": "en"}\n',
        "data/data.xml": "<posts/>\n",
        **{f"src/{s}.py": f"# {s}\n" for s in ("prepare", "featurization", "train", "evaluate")},
    }
    estimator = ("estimator:\n  class: sklearn.ensemble.RandomForestClassifier", f"train:\n  {train}")
    _add_model(repo, "pipe", estimator, files)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def test_a_dvc_stage_model_is_affected_by_its_tracked_params_only(governed_repo: Path, tmp_path: Path) -> None:
    base = _pipeline_repo(governed_repo)
    commit(governed_repo, "params.yaml", "  unused: 1", "  unused: 2")
    assert affected(governed_repo, base, tmp_path)[0] == {}, "featurize tracks max_features, not unused"
    commit(governed_repo, "params.yaml", "n_est: 50", "n_est: 100")
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {"pipe": ["params.yaml (train.n_est)"]}, "a key of the section the stage tracks whole"
    assert 'models=["pipe"]' in outputs
    commit(governed_repo, "params.yaml", "    depth: 4", "    depth: 5")
    commit(governed_repo, "params.yaml", "  split: 0.2", "  split: 0.25")  # upstream: prepare
    assert affected(governed_repo, base, tmp_path)[0] == {
        "pipe": ["params.yaml (prepare.split)", "params.yaml (train.forest.depth)", "params.yaml (train.n_est)"]
    }


def test_params_of_other_files_sections_and_whole_files(governed_repo: Path, tmp_path: Path) -> None:
    base = _pipeline_repo(governed_repo)
    commit(governed_repo, "features.yaml", "  min: 1", "  min: 2")
    assert affected(governed_repo, base, tmp_path)[0] == {}, "features.yaml: only ngrams.max is tracked"
    commit(governed_repo, "features.yaml", "  max: 2", "  max: 3")
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["features.yaml (ngrams.max)"]}
    commit(governed_repo, "lexicon.json", '"en"', '"de"')  # tracked whole: every key
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["features.yaml (ngrams.max)", "lexicon.json (lang)"]}
    commit(governed_repo, "params.yaml", "  min_split: 0.01", "  min_split: 1.0e-2")  # same value, same type
    assert affected(governed_repo, base, tmp_path)[0]["pipe"] == ["features.yaml (ngrams.max)", "lexicon.json (lang)"]
    commit(governed_repo, "params.yaml", "  n_est: 50", "  n_est: 50.0")  # a float where an int was
    assert "params.yaml (train.n_est)" in affected(governed_repo, base, tmp_path)[0]["pipe"]


def test_upstream_code_affects_a_dvc_stage_model_and_downstream_code_does_not(
    governed_repo: Path, tmp_path: Path
) -> None:
    base = _pipeline_repo(governed_repo)
    commit(governed_repo, "src/evaluate.py", "# evaluate", "# evaluate v2")
    assert affected(governed_repo, base, tmp_path)[0] == {}, "evaluate runs after train: the model is the same"
    commit(governed_repo, "src/featurization.py", "# featurization", "# featurization v2")
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["src/featurization.py"]}
    commit(governed_repo, "data/data.xml", "<posts/>", "<posts></posts>")  # a dep of prepare, two stages up
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["data/data.xml", "src/featurization.py"]}


def test_an_upstream_cmd_edit_affects_the_model(governed_repo: Path, tmp_path: Path) -> None:
    base = _pipeline_repo(governed_repo)
    commit(
        governed_repo, "dvc.yaml", "python src/prepare.py data/data.xml", "python src/prepare.py --all data/data.xml"
    )
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["dvc.yaml (stage prepare)"]}


def test_dropping_a_dep_in_the_same_pr_still_affects_the_model(governed_repo: Path, tmp_path: Path) -> None:
    # an attacker edits src/prepare.py and removes it from the stage's deps in the same pull request:
    # the base's graph still names it, and the edit of dvc.yaml is itself a reason
    base = _pipeline_repo(governed_repo)
    path = governed_repo / "src/prepare.py"
    path.write_text("# prepare, changed\n")
    dvc_yaml = governed_repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("      - src/prepare.py\n", "", 1))
    text = dvc_yaml.read_text().replace("      - prepare.seed\n      - prepare.split\n", "      - prepare.seed\n", 1)
    dvc_yaml.write_text(text)
    params = governed_repo / "params.yaml"
    params.write_text(params.read_text().replace("  split: 0.2", "  split: 0.5", 1))
    git("commit", "-qam", "untrack and change", cwd=governed_repo)
    found, _ = affected(governed_repo, base, tmp_path)
    assert found == {"pipe": ["dvc.yaml (stage prepare)", "params.yaml (prepare.split)", "src/prepare.py"]}


def test_a_dvc_stage_the_base_lacks_affects_the_model(governed_repo: Path, tmp_path: Path) -> None:
    base = _pipeline_repo(governed_repo, train="command: dvc repro fit")
    assert affected(governed_repo, base, tmp_path)[0] == {}, "no stage named fit on either side yet"
    commit(governed_repo, "dvc.yaml", "  train:\n", "  fit:\n")
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["dvc.yaml (stage fit)"]}


def test_dvc_yaml_dvc_cannot_load_is_bad_input_naming_file_and_revision(governed_repo: Path) -> None:
    base = _pipeline_repo(governed_repo)
    commit(governed_repo, "dvc.yaml", "    cmd: python src/train.py", "    cmdd: python src/train.py")
    result = invoke(CliRunner(), "affected", "--base", base, cwd=governed_repo)
    assert result.exit_code == 2, result.output
    line = 1 + (governed_repo / "dvc.yaml").read_text().splitlines().index(
        "    cmdd: python src/train.py data/features model.pkl"
    )
    assert f"dvc.yaml (at HEAD):{line}:5: stages -> train -> cmdd: extra keys not allowed (DVC's" in result.output
    assert "stages -> train -> cmd: required key not provided (DVC's dvc.yaml schema)" in result.output


def test_pipeline_params_and_metrics_diff_as_dvc_shows_them(governed_repo: Path) -> None:
    from mlgate.config import MISSING, WORKSPACE, changed_params, compare, metrics_diff

    _pipeline_repo(governed_repo)
    (governed_repo / "eval").mkdir()
    (governed_repo / "eval/metrics.json").write_text('{"avg_prec": {"test": 0.5}, "roc_auc": 0.7, "gone": 1}\n')
    git("add", "eval/metrics.json", cwd=governed_repo)
    git("commit", "-qm", "metrics", cwd=governed_repo)
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    # the workspace after `dvc repro`: params edited, evaluate's metrics rewritten (uncommitted)
    params = governed_repo / "params.yaml"
    text = params.read_text().replace("n_est: 50", "n_est: 100").replace("  forest:\n    depth: 4\n", "")
    params.write_text(text.replace("  unused: 1", "  unused: 9").replace("  max_features: 100", "  max_features: 50"))
    (governed_repo / "features.yaml").write_text("ngrams:\n  max: 2\n  min: 1\n  extra: true\n")  # untracked key
    (governed_repo / "eval/metrics.json").write_text('{"avg_prec": {"test": 0.625}, "roc_auc": 0.7, "new": 2}\n')
    old, new = compare(governed_repo, base, WORKSPACE, ["train"])
    assert sorted(new.stages) == ["featurize", "prepare", "train"]
    assert sorted(new.downstream) == ["evaluate"]
    assert new.metrics_files() == ["eval/metrics.json"], "train writes none; evaluate, downstream, does"
    assert changed_params(old, new) == [
        ("params.yaml", "featurize.max_features", 100, 50),
        ("params.yaml", "train.forest.depth", 4, MISSING),
        ("params.yaml", "train.n_est", 50, 100),
    ], "featurize.unused and ngrams.extra are not tracked"
    rows, errors = metrics_diff(governed_repo, base, ["eval/metrics.json"])
    assert [r.as_dict() for r in rows] == [
        {"file": "eval/metrics.json", "metric": "avg_prec.test", "base": 0.5, "head": 0.625, "change": 0.125},
        {"file": "eval/metrics.json", "metric": "gone", "base": 1, "head": None, "change": None},
        {"file": "eval/metrics.json", "metric": "new", "base": None, "head": 2, "change": None},
        {"file": "eval/metrics.json", "metric": "roc_auc", "base": 0.7, "head": 0.7, "change": 0.0},
    ]
    assert errors == {}
    (governed_repo / "eval/metrics.json").unlink()
    rows, errors = metrics_diff(governed_repo, base, ["eval/metrics.json"])
    assert errors == {"eval/metrics.json (head)": "not found"}
    assert {r.metric: r.head for r in rows} == {"avg_prec.test": None, "gone": None, "roc_auc": None}


def test_a_dvc_tracked_input_of_an_upstream_stage_affects_the_model(governed_repo: Path, tmp_path: Path) -> None:
    # git holds only data/data.xml.dvc (the pointer `dvc add` wrote): its change is the input's change
    _pipeline_repo(governed_repo)
    git("rm", "-q", "--cached", "data/data.xml", cwd=governed_repo)
    dvc("add", "-q", "data/data.xml", cwd=governed_repo)
    git("add", "-A", cwd=governed_repo)
    git("commit", "-qm", "track the input with dvc", cwd=governed_repo)
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    (governed_repo / "data/data.xml").write_text("<posts><post/></posts>\n")
    dvc("add", "-q", "data/data.xml", cwd=governed_repo)
    git("commit", "-qam", "new input", cwd=governed_repo)
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["data/data.xml.dvc"]}


def test_a_change_that_adds_dvc_itself_reads_no_graph_at_the_base(governed_repo: Path, tmp_path: Path) -> None:
    # the base has no .dvc/ (the pull request runs `dvc init` and adds the pipeline): not an error
    git("rm", "-r", "-q", "--cached", ".dvc", cwd=governed_repo)
    git("commit", "-qm", "no dvc yet", cwd=governed_repo)
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    git("add", ".dvc", cwd=governed_repo)
    _pipeline_repo(governed_repo)
    found, _ = affected(governed_repo, base, tmp_path)
    assert "dvc.yaml (stage train)" in found["pipe"], "every stage of the new pipeline is new"
    assert "params.yaml (train.n_est)" in found["pipe"]


def test_a_params_file_newly_tracked_is_compared_with_its_value_at_the_base(
    governed_repo: Path, tmp_path: Path
) -> None:
    # fit.yaml exists at the base, tracked by no stage; the head's new stage tracks it unchanged
    _pipeline_repo(governed_repo, train="command: dvc repro fit")
    (governed_repo / "fit.yaml").write_text("depth: 3\n")
    git("add", "fit.yaml", cwd=governed_repo)
    git("commit", "-qm", "fit.yaml", cwd=governed_repo)
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    tracked = "  fit:\n    cmd: python src/train.py data/features model.pkl\n    params:\n      - fit.yaml:\n"
    commit(governed_repo, "dvc.yaml", "  evaluate:\n", tracked + "  evaluate:\n")
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["dvc.yaml (stage fit)"]}, "depth is still 3"
    commit(governed_repo, "fit.yaml", "depth: 3", "depth: 4")
    assert affected(governed_repo, base, tmp_path)[0] == {"pipe": ["dvc.yaml (stage fit)", "fit.yaml (depth)"]}
