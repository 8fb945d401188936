"""Retraining pull requests (`mlgate.monitoring.propose`) and `mlgate monitored`.

Real git (a local bare repository is `origin`), real DVC (the template repo's data, a directory
remote of the test's own), and the GitHub stand-in, which checks every request and response
against GitHub's REST API description.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import checkout_state, copy_repo, dirty, dvc, git, github_stand_in, invoke
from mlgate.config import replace_scalar
from mlgate.exceptions import InvalidInput, MlgateError
from mlgate.github import GitHub
from mlgate.monitoring import branch_name, due, monitored_models, propose
from mlgate_devkit.github_stand_in import FakeGitHub

REPO = "octo-org/models"
TOKEN = "ghs_retrainTestToken0123456789abcdefghij"
BRANCH = "mlgate/retrain-credit"
SPEC = "models/credit/model.yaml"


def verdict(triggered: bool = True) -> dict[str, Any]:
    return {
        "model": "credit",
        "stage": "production",
        "version": 3,
        "status": "fail",
        "rules": [],
        "metrics": {"drifted_share": 0.42, "rows": 1200},
        "evaluated_at": "2026-03-02T05:17:00Z",
        "monitoring_run_id": "0123abcd",
        "retrain": {
            "triggered": triggered,
            "reason": "drifted_share 0.42 > 0.3" if triggered else "",
            "when": {"metric": "drifted_share", "max": 0.3} if triggered else None,
        },
    }


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def set_recipe(repo: Path, recipe: str) -> None:
    """Add ``monitoring.retrain`` (YAML lines, indented under it) to the credit spec."""
    spec = repo / SPEC
    text = spec.read_text()
    anchor = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
    assert anchor in text
    spec.write_text(text.replace(anchor, anchor + "  retrain:\n" + recipe, 1))


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """The governed repo, its own DVC remote, and a bare `origin` holding main."""
    repo = copy_repo(template_repo, tmp_path / "repo")
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    dvc("remote", "add", "--local", "-d", "mine", str(remote), cwd=repo)  # .dvc/config.local: not in git
    dvc("push", "-q", cwd=repo)
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    return repo


def origin_of(repo: Path) -> Path:
    return repo.parent / "origin.git"


def remote_heads(repo: Path) -> dict[str, str]:
    out = git("ls-remote", "--heads", str(origin_of(repo)), cwd=repo)
    return {ref.removeprefix("refs/heads/"): sha for sha, ref in (line.split() for line in out.splitlines())}


def assert_back_on_main_and_clean(repo: Path) -> None:
    assert git("branch", "--show-current", cwd=repo).strip() == "main"
    assert git("status", "--porcelain", "--untracked-files=no", cwd=repo) == ""
    assert git("branch", "--list", BRANCH, cwd=repo) == "", "no local retrain branch"
    assert_no_scratch_left(repo)


def assert_no_scratch_left(repo: Path) -> None:
    worktrees = git("worktree", "list", "--porcelain", cwd=repo)
    assert worktrees.count("worktree ") == 1, f"the scratch checkout is removed: {worktrees}"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        yield fake


def client(fake: FakeGitHub) -> GitHub:
    return GitHub(TOKEN, api_url=fake.url, repo=REPO, backoff=0, sleep=lambda _s: None)


def posts(fake: FakeGitHub) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["method"] == "POST"]


# --------------------------------------------------------------------------- snapshots


@pytest.fixture
def snapshots_repo(repo: Path) -> Path:
    """Two DVC-tracked snapshots; the spec points at neither; the recipe is their glob."""
    source = (repo / "data/german_credit.csv").read_text().splitlines(keepends=True)
    (repo / "data/snapshots").mkdir()
    (repo / "data/snapshots/2026-01.csv").write_text("".join(source[:800]))
    (repo / "data/snapshots/2026-02.csv").write_text("".join(source[:900]))
    dvc("add", "-q", "data/snapshots/2026-01.csv", "data/snapshots/2026-02.csv", cwd=repo)
    dvc("push", "-q", cwd=repo)
    set_recipe(repo, "    snapshots: data/snapshots/*.csv   # the newest by name is trained on\n")
    commit_all(repo, "credit: retrain from monthly snapshots")
    git("push", "-q", "origin", "main", cwd=repo)
    return repo


def test_snapshots_recipe_opens_one_pr_with_the_spec_pointing_at_the_newest(snapshots_repo: Path, fake) -> None:
    repo = snapshots_repo
    before = (repo / SPEC).read_text()
    main_before = git("rev-parse", "main", cwd=repo).strip()
    state = checkout_state(repo)
    said: list[str] = []
    with client(fake) as github:
        result = propose(repo, "credit", verdict(), github, progress=said.append)
    assert result.action == "opened", said
    assert result.branch == BRANCH == branch_name("credit")
    [pull] = fake.pulls.values()
    assert result.number == pull["number"]
    assert pull["head"]["ref"] == BRANCH
    assert pull["base"]["ref"] == "main"
    assert pull["title"] == "Retrain credit: drifted_share 0.42 > 0.3"
    body = pull["body"]
    for text in ("drifted_share", "0.42", "0.3", "0123abcd", "usual gates", "data/snapshots/2026-02.csv"):
        assert text in body, text
    # the branch on origin holds exactly the spec change: data.path, one line, comments kept
    heads = remote_heads(repo)
    assert heads["main"] == main_before, "main is not touched"
    pushed = git("show", f"{BRANCH}:{SPEC}", cwd=origin_of(repo))
    assert pushed == before.replace("  path: data/german_credit.csv\n", "  path: data/snapshots/2026-02.csv\n", 1)
    assert "# the newest by name is trained on" in pushed
    changed = git("diff", "--name-only", f"main...{BRANCH}", cwd=origin_of(repo)).split()
    assert changed == [SPEC]
    message = git("log", "-1", "--format=%B", BRANCH, cwd=origin_of(repo)).strip()
    assert message == "credit: retrain — drifted_share 0.42 > 0.3 in production (monitoring run 0123abcd)"
    assert checkout_state(repo) == state, "the user's checkout is exactly as it was"
    assert_no_scratch_left(repo)

    # (b) a second run while the PR is open: nothing pushed, no second PR
    fake.requests.clear()
    with client(fake) as github:
        again = propose(repo, "credit", verdict(), github)
    assert again.as_dict() == {"action": "exists", "number": pull["number"], "url": pull["html_url"], "branch": BRANCH}
    assert len(fake.pulls) == 1
    assert posts(fake) == []
    [listing] = fake.requests
    assert listing["method"] == "GET"
    assert listing["query"]["head"] == [f"octo-org:{BRANCH}"]
    assert listing["query"]["state"] == ["open"]
    assert remote_heads(repo) == heads

    # the PR was closed without merging: the next trigger replaces the branch and opens a new one
    pull["state"] = "closed"
    (repo / "data/snapshots/2026-03.csv").write_text((repo / "data/snapshots/2026-02.csv").read_text())
    dvc("add", "-q", "data/snapshots/2026-03.csv", cwd=repo)
    commit_all(repo, "march snapshot")
    with client(fake) as github:
        third = propose(repo, "credit", verdict(), github)
    assert third.action == "opened"
    assert third.number != pull["number"]
    assert "path: data/snapshots/2026-03.csv" in git("show", f"{BRANCH}:{SPEC}", cwd=origin_of(repo))
    assert_back_on_main_and_clean(repo)


@pytest.mark.parametrize("how", ["close", "502"])
def test_a_lost_answer_to_the_pr_create_still_makes_one_pr(snapshots_repo: Path, fake, how: str) -> None:
    fake.lose_next(how=how)
    with client(fake) as github:
        result = propose(snapshots_repo, "credit", verdict(), github)
    assert result.action == "opened"
    assert len(fake.pulls) == 1, "looked up by its head before the retry: never two"
    assert [r["path"] for r in posts(fake)] == [f"/repos/{REPO}/pulls"]
    assert result.number == next(iter(fake.pulls))
    assert_back_on_main_and_clean(snapshots_repo)


def test_the_newest_snapshot_already_in_use_changes_nothing(snapshots_repo: Path, fake) -> None:
    repo = snapshots_repo
    replace_scalar(repo / SPEC, ("data", "path"), "data/snapshots/2026-02.csv")
    commit_all(repo, "on the newest")
    with client(fake) as github:
        result = propose(repo, "credit", verdict(), github)
    assert result.action == "no_change"
    assert fake.pulls == {}
    assert posts(fake) == []
    assert BRANCH not in remote_heads(repo)
    assert_back_on_main_and_clean(repo)


def test_a_newest_snapshot_git_tracks_but_dvc_does_not_is_refused_located(snapshots_repo: Path, fake) -> None:
    (snapshots_repo / "data/snapshots/2026-04.csv").write_text("a,b\n1,2\n")
    commit_all(snapshots_repo, "a snapshot committed to git, not DVC")
    state = checkout_state(snapshots_repo)
    with client(fake) as github, pytest.raises(MlgateError) as err:
        propose(snapshots_repo, "credit", verdict(), github)
    assert err.value.exit_code == 2
    assert "2026-04.csv is not DVC-tracked" in str(err.value.problems[0])
    assert f"{SPEC}:" in str(err.value.problems[0])
    assert fake.pulls == {}
    assert BRANCH not in remote_heads(snapshots_repo)
    assert checkout_state(snapshots_repo) == state
    assert_no_scratch_left(snapshots_repo)


def test_an_uncommitted_snapshot_is_not_the_bases_and_is_not_proposed(snapshots_repo: Path, fake) -> None:
    """The pull request holds what the base branch holds: a file only in the user's work tree is not in it."""
    (snapshots_repo / "data/snapshots/2026-04.csv").write_text("a,b\n1,2\n")
    with client(fake) as github:
        result = propose(snapshots_repo, "credit", verdict(), github)
    assert result.action == "opened"
    assert "path: data/snapshots/2026-02.csv" in git("show", f"{BRANCH}:{SPEC}", cwd=origin_of(snapshots_repo))
    assert (snapshots_repo / "data/snapshots/2026-04.csv").read_text() == "a,b\n1,2\n"


# --------------------------------------------------------------------------- command


PREPARE = """\
import os, pathlib
# the base's DVC-tracked data is there (the scratch checkout shares the workspace's DVC cache)
assert pathlib.Path("data/german_credit.csv").stat().st_size > 1000, "no data checked out"
source = pathlib.Path(os.environ["RETRAIN_SOURCE"]).read_text()
pathlib.Path("data/prepared.csv").write_text(source)
"""


@pytest.fixture
def command_repo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `prepare` stage that copies an outside source (always changed: it fetches) into data/prepared.csv."""
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    monkeypatch.setenv("RETRAIN_SOURCE", str(source))
    (repo / "prepare.py").write_text(PREPARE)
    with (repo / "dvc.yaml").open("a") as out:
        out.write(
            "  prepare:\n    cmd: python prepare.py\n    deps: [prepare.py]\n"
            "    outs: [data/prepared.csv]\n    always_changed: true\n"
        )
    dvc("repro", "-q", "prepare", cwd=repo)
    dvc("push", "-q", cwd=repo)
    set_recipe(repo, "    command: dvc repro prepare\n")
    commit_all(repo, "credit: retrain by refreshing data/prepared.csv")
    git("push", "-q", "origin", "main", cwd=repo)
    return repo


def test_command_recipe_commits_the_lock_and_pushes_the_data(command_repo: Path, fake, tmp_path: Path) -> None:
    repo = command_repo
    (tmp_path / "source.csv").write_text("a,b\n1,2\n3,4\n")  # the outside world moved on
    dirty(repo, "params.yaml")  # work in progress: the recipe runs elsewhere
    state = checkout_state(repo)
    with client(fake) as github:
        result = propose(repo, "credit", verdict(), github)
    assert result.action == "opened"
    assert result.changed == ["dvc.lock"]
    origin = origin_of(repo)
    assert git("diff", "--name-only", f"main...{BRANCH}", cwd=origin).split() == ["dvc.lock"]
    tree = git("ls-tree", "-r", "--name-only", BRANCH, cwd=origin).split()
    assert "data/prepared.csv" not in tree, "data DVC tracks never goes to git"
    lock = git("show", f"{BRANCH}:dvc.lock", cwd=origin)
    new_md5 = next(
        out["md5"] for out in yaml.safe_load(lock)["stages"]["prepare"]["outs"] if out["path"] == "data/prepared.csv"
    )
    assert (tmp_path / "dvc-remote/files/md5" / new_md5[:2] / new_md5[2:]).read_text() == "a,b\n1,2\n3,4\n"
    assert "dvc repro prepare" in fake.pulls[result.number]["body"]
    assert "# staged, not committed" not in git("show", f"{BRANCH}:params.yaml", cwd=origin)
    assert checkout_state(repo) == state, "branch, HEAD, index, work tree and data as they were"
    assert (repo / "data/prepared.csv").read_text() == "a,b\n1,2\n", "the user's data is never touched"
    assert_no_scratch_left(repo)


def test_a_failing_command_exits_2_with_its_output_and_leaves_everything_as_it_was(
    command_repo: Path, fake, tmp_path: Path
) -> None:
    repo = command_repo
    spec = repo / SPEC  # a command that changes the lock, then fails
    spec.write_text(spec.read_text().replace("command: dvc repro prepare", "command: python fail.py"))
    (repo / "fail.py").write_text(
        "import pathlib, sys\npathlib.Path('dvc.lock').write_text('changed')\n"
        "print('fetching the snapshot failed: 503', flush=True)\nsys.exit(4)\n"
    )
    commit_all(repo, "a command that fails")
    dirty(repo, "dvc.lock")
    state = checkout_state(repo)
    with client(fake) as github, pytest.raises(InvalidInput) as err:
        propose(repo, "credit", verdict(), github)
    assert err.value.exit_code == 2
    assert "exit code 4" in err.value.message
    assert "fetching the snapshot failed: 503" in err.value.message
    assert checkout_state(repo) == state
    assert "changed" not in (repo / "dvc.lock").read_text()
    assert_no_scratch_left(repo)
    assert BRANCH not in remote_heads(repo)
    assert fake.pulls == {}
    assert posts(fake) == []


# --------------------------------------------------------------------------- nothing to do, refusals


def test_not_triggered_does_nothing(snapshots_repo: Path, fake) -> None:
    with client(fake) as github:
        result = propose(snapshots_repo, "credit", verdict(triggered=False), github)
    assert result.as_dict() == {"action": "not_triggered", "number": None, "url": None, "branch": BRANCH}
    assert fake.requests == []
    assert BRANCH not in remote_heads(snapshots_repo)


def test_no_recipe_says_how_to_add_one(repo: Path, fake) -> None:
    with client(fake) as github:
        result = propose(repo, "credit", verdict(), github)
    assert result.action == "no_recipe"
    assert "monitoring.retrain" in result.hint
    assert fake.requests == []
    assert BRANCH not in remote_heads(repo)


def test_uncommitted_work_on_another_branch_is_left_exactly_as_it_was(snapshots_repo: Path, fake) -> None:
    """The user is on a feature branch with staged, unstaged and untracked work on the very spec the recipe edits."""
    repo = snapshots_repo
    git("switch", "-q", "-c", "feature", cwd=repo)
    (repo / "params.yaml").write_text((repo / "params.yaml").read_text() + "# a feature commit\n")
    commit_all(repo, "feature work")
    dirty(repo, SPEC)
    state = checkout_state(repo)
    with client(fake) as github:
        result = propose(repo, "credit", verdict(), github)
    assert result.action == "opened"
    assert checkout_state(repo) == state
    assert_no_scratch_left(repo)
    origin = origin_of(repo)
    # the branch starts from main, not from the feature, and holds none of the uncommitted work
    assert git("rev-parse", f"{BRANCH}~1", cwd=origin).strip() == remote_heads(repo)["main"]
    pushed = git("show", f"{BRANCH}:{SPEC}", cwd=origin)
    assert "path: data/snapshots/2026-02.csv" in pushed
    assert "not committed" not in pushed
    assert "not even staged" not in pushed
    assert git("diff", "--name-only", f"main...{BRANCH}", cwd=origin).split() == [SPEC]


def test_a_push_that_fails_midway_leaves_the_checkout_and_a_retry_opens_one_pr(snapshots_repo: Path, fake) -> None:
    """git push is refused after the commit was made: exit 3, the checkout as it was; the retry opens one PR."""
    repo = snapshots_repo
    dirty(repo, "params.yaml")
    state = checkout_state(repo)
    git("remote", "set-url", "--push", "origin", str(repo.parent / "nowhere.git"), cwd=repo)
    with client(fake) as github, pytest.raises(MlgateError) as err:
        propose(repo, "credit", verdict(), github)
    assert err.value.exit_code == 3, err.value
    assert "push" in str(err.value)
    assert checkout_state(repo) == state
    assert_no_scratch_left(repo)
    assert fake.pulls == {}
    git("remote", "set-url", "--push", "origin", str(origin_of(repo)), cwd=repo)
    for _ in range(2):  # the retry, then a retry of the retry: one branch, one pull request
        with client(fake) as github:
            again = propose(repo, "credit", verdict(), github)
    assert again.action == "exists"
    assert len(fake.pulls) == 1
    assert set(remote_heads(repo)) == {BRANCH, "main"}
    assert checkout_state(repo) == state


# --------------------------------------------------------------------------- the YAML edit


def test_replace_scalar_changes_one_value_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    text = "# head\ndata:\n  path: 'data/a.csv'  # quoted, with a comment\n  split: {seed: 1}\nname: x\n"
    path.write_text(text)
    replace_scalar(path, ("data", "path"), "data/snap shots/b.csv")
    assert path.read_text() == text.replace("'data/a.csv'", '"data/snap shots/b.csv"')
    replace_scalar(path, ("name",), "y")
    assert path.read_text().endswith("name: y\n")
    with pytest.raises(MlgateError):
        replace_scalar(path, ("data", "missing"), "z")


# --------------------------------------------------------------------------- mlgate monitored


@pytest.mark.parametrize(
    ("frequency", "day", "expected"),
    [
        ("daily", date(2026, 3, 3), True),
        ("hourly", date(2026, 3, 3), True),
        ("weekly", date(2026, 3, 2), True),  # a Monday
        ("Weekly", date(2026, 3, 3), False),
        ("monthly", date(2026, 3, 1), True),
        ("monthly", date(2026, 3, 2), False),
        ("", date(2026, 3, 2), True),  # empty: weekly
        ("", date(2026, 3, 4), False),
        ("fortnightly", date(2026, 3, 9), True),
    ],
)
def test_due_rules(frequency: str, day: date, expected: bool) -> None:
    is_due, reason = due(frequency, day)
    assert is_due is expected, reason
    if frequency.strip().lower() not in ("hourly", "daily", "weekly", "monthly"):
        assert "watched weekly" in reason


@pytest.fixture
def monitored_repo(governed_repo: Path) -> Path:
    for name, version in (("credit", 3), ("insurance", 1)):
        release = governed_repo / "models" / name / "release.yaml"
        release.write_text(release.read_text().replace("production: null", f"production: {version}"))
    return governed_repo


def test_monitored_lists_production_models_with_their_turn(monitored_repo: Path, cli, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    result = invoke(
        cli,
        "monitored",
        "--stage",
        "production",
        "--due-on",
        "2026-03-02",
        "--json",
        "-",
        "--github-output",
        str(output),
        cwd=monitored_repo,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # the JSON alone on stdout
    assert [(r["model"], r["version"], r["frequency"], r["due"]) for r in rows] == [
        ("credit", 3, "weekly", True),
        ("insurance", 1, "monthly", False),
    ]
    assert "Monday" in rows[0]["reason"]
    assert output.read_text() == 'models=["credit"]\nany=true\ncandidates=[]\nany-candidate=false\n'

    staging = invoke(cli, "monitored", "--stage", "staging", "--json", "-", cwd=monitored_repo)
    assert staging.exit_code == 0
    assert json.loads(staging.stdout) == []

    every = monitored_models(monitored_repo, "production", every=True)
    assert all(r["due"] for r in every)
    assert len(every) == 2
    nothing = monitored_models(monitored_repo, "production", due_on=date(2026, 3, 4))
    assert [r["due"] for r in nothing] == [False, False]


def test_monitored_with_nothing_due_gives_an_empty_matrix(monitored_repo: Path, cli, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    result = invoke(
        cli,
        "monitored",
        "--stage",
        "production",
        "--due-on",
        "2026-03-04",
        "--github-output",
        str(output),
        cwd=monitored_repo,
    )
    assert result.exit_code == 0, result.output
    assert output.read_text() == "models=[]\nany=false\ncandidates=[]\nany-candidate=false\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "no spec for model(s) nope"),
        (["--stage", "staging", "--model", "credit"], "sets no version for 'staging'"),
        (["--all", "--due-on", "2026-03-02"], "not both"),
        (["--due-on", "March"], "Invalid value for '--due-on'"),
    ],
)
def test_monitored_refuses_bad_arguments(monitored_repo: Path, cli, args: list[str], message: str) -> None:
    full = ["monitored", *(["--stage", "production"] if "--stage" not in args else []), *args]
    result = invoke(cli, *full, cwd=monitored_repo)
    assert result.exit_code == 2
    assert message in result.stderr


def test_monitored_refuses_a_broken_release_located(monitored_repo: Path, cli) -> None:
    release = monitored_repo / "models/insurance/release.yaml"
    release.write_text(release.read_text().replace("production: 1", "production: -4"))
    result = invoke(cli, "monitored", "--stage", "production", cwd=monitored_repo)
    assert result.exit_code == 2
    assert "models/insurance/release.yaml:" in result.stderr


def test_the_monitored_command_has_help(cli) -> None:
    result = invoke(cli, "monitored", "--help")
    assert result.exit_code == 0
    for option in ("--stage", "--due-on", "--all", "--model", "--json", "--github-output"):
        assert option in result.output
