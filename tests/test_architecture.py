"""The package layout keeps its promises: each outside system behind one adapter, a light import.

- MLflow is imported only in ``mlgate/registry/``, httpx only in ``mlgate/github/``, click only in
  ``mlgate/cli/``, pyspark (and py4j) only in ``mlgate/registry/spark.py`` (the Spark adapter),
  FastAPI, Starlette, uvicorn, SQLAlchemy, prometheus_client and psycopg only in ``mlgate/serving/``;
  git runs only in ``mlgate/git.py`` (and child processes only there, in
  ``mlgate/data/``, which runs ``dvc``, and in ``mlgate/training/command.py``, which runs a spec's own
  training command);
- ``import mlgate`` imports neither click nor the CLI;
- the top level holds only the package's own basics: every concern lives in a subpackage;
- every name a package re-exports in ``__all__`` exists.

Modules are read with :mod:`ast` (nothing is imported to check them), so a lazy import inside a
function counts as much as one at the top of the file.
"""

from __future__ import annotations

import ast
import configparser
import functools
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mlgate"
TOP_LEVEL = {"__init__.py", "exceptions.py", "jsonout.py", "git.py", "outcome.py", "api.py"}  # api: the CLI's facade
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """(top-level name, line) of every import in the module, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def offenders(library: str, allowed: str) -> list[str]:
    """``file:line`` of each import of ``library`` outside the ``allowed`` folder or file."""
    return [
        f"{rel(path)}:{line}"
        for path in modules()
        if not rel(path).startswith(allowed)
        for name, line in imported(path)
        if name == library
    ]


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("mlflow", "registry/"),
        ("httpx", "github/"),
        ("click", "cli/"),
        ("pyspark", "registry/spark.py"),
        ("py4j", "registry/spark.py"),
        ("fastapi", "serving/"),
        ("starlette", "serving/"),
        ("uvicorn", "serving/"),
        ("sqlalchemy", "serving/"),
        ("prometheus_client", "serving/"),
        ("psycopg", "serving/"),
    ],
)
def test_an_outside_library_is_imported_by_its_adapter_only(library: str, allowed: str) -> None:
    assert offenders(library, allowed) == [], f"{library} may only be imported in mlgate/{allowed}"


def git_commands(path: Path) -> list[str]:
    """``file:line`` of each argv literal that starts with "git" (``["git", ...]``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.List | ast.Tuple) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and first.value == "git":
                found.append(f"{rel(path)}:{node.lineno}")
    return found


def test_git_runs_only_in_the_git_adapter() -> None:
    found = [hit for path in modules() if rel(path) != "git.py" for hit in git_commands(path)]
    assert found == [], "run git through mlgate.git (run_git, show, archive, ...)"


def raw_git_uses(source: str) -> list[int]:
    """The line of each use of mlgate.git's raw runners (``run_git``, ``_git``): a call, a reference or an import."""
    raw = {"run_git", "_git"}
    found = []
    for node in ast.walk(ast.parse(source)):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name in raw:
            found.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "mlgate.git":
            found += [node.lineno for alias in node.names if alias.name in raw]
    return sorted(found)


def test_each_git_question_is_a_named_function_of_the_git_adapter() -> None:
    """No module outside git.py runs a raw ``git <subcommand>``: each question is a function there."""
    found = [
        f"{rel(path)}:{line}"
        for path in modules()
        if rel(path) != "git.py"
        for line in raw_git_uses(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "add a named function to mlgate/git.py instead of run_git(root, '<subcommand>', ...)"


def test_the_raw_git_check_sees_a_raw_call() -> None:
    """The check above finds each way of reaching the raw runner (so an empty result means something)."""
    source = (
        "from mlgate.git import run_git\nimport mlgate.git as g\n\n"
        "def f(root):\n    return run_git(root, 'log'), g._git(root, 'status')\n"
    )
    assert raw_git_uses(source) == [1, 5, 5]
    assert raw_git_uses("from mlgate.git import show\nshow(root, 'HEAD', 'a')\n") == []


# The one module that runs the user's own training command (a spec's `train: {command: ...}`).
TRAINING_COMMAND = "training/command.py"


def test_child_processes_start_only_in_the_git_adapter_and_for_dvc() -> None:
    found = []
    for path in modules():
        if rel(path) in ("git.py", TRAINING_COMMAND) or rel(path).startswith("data/"):
            continue
        found += [f"{rel(path)}:{line}" for name, line in imported(path) if name == "subprocess"]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("subprocess", "os")
                and node.func.attr in SUBPROCESS_CALLS | {"system", "popen"}
            ):
                found.append(f"{rel(path)}:{node.lineno}")
    assert found == []


def test_import_mlgate_stays_free_of_the_cli() -> None:
    script = (
        "import sys, mlgate; "
        "print(sorted(m for m in sys.modules if m == 'click' or m.startswith(('click.', 'mlgate.'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_library_never_imports_the_cli() -> None:
    found = []
    for path in modules():
        if rel(path).startswith("cli/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                if any(n == "mlgate.cli" or n.startswith("mlgate.cli.") for n in names):
                    found.append(f"{rel(path)}:{node.lineno}")
    assert found == []


def test_the_cli_builds_no_adapter_itself() -> None:
    """A command parses, makes one library call and formats: registries and clients are the library's."""
    for path in (PACKAGE / "cli").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules_used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not modules_used & {"mlgate.registry", "mlgate.github", "mlgate.git"}, rel(path)


def test_only_the_basics_live_at_the_top_level() -> None:
    top = {p.name for p in PACKAGE.glob("*.py")}  # the demo lives in devkit/, outside the wheel
    assert top == TOP_LEVEL, "put the module in the subpackage of its concern"
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == {
        "cli",
        "config",
        "data",
        "gates",
        "github",
        "monitoring",
        "promotion",
        "registry",
        "report",
        "scoring",
        "serving",
        "training",
    }


@pytest.mark.parametrize(
    "package",
    [
        "mlgate.data",
        "mlgate.registry",
        "mlgate.github",
        "mlgate.promotion",
        "mlgate.report",
        "mlgate.cli",
        "mlgate.gates.integrity",
        "mlgate.scoring",
        "mlgate.monitoring",
    ],
)
def test_every_re_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, package
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert sorted(module.__all__) == sorted(set(module.__all__))


def public_names(package_dir: Path) -> set[str]:
    """The ``__all__`` of a package's ``__init__.py``, read with ast (empty without one)."""
    init = package_dir / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_tests_and_benchmarks_import_re_exported_names_from_the_package() -> None:
    """``from mlgate.registry import Registry``, not ``from mlgate.registry.mlflow import Registry``."""
    root = PACKAGE.parents[1]
    found = []
    for path in sorted([*(root / "tests").rglob("*.py"), *(root / "benchmarks").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlgate.")):
                continue
            package = PACKAGE.joinpath(*node.module.split(".")[1:]).parent
            if package == PACKAGE or not (package / "__init__.py").is_file():
                continue
            private = [a.name for a in node.names if a.name in public_names(package)]
            if private:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {', '.join(private)} from {node.module}")
    assert found == []


def test_the_cli_loads_the_service_stack_only_to_serve() -> None:
    script = (
        "import sys, mlgate.cli, mlgate.serving; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', 'sqlalchemy', 'starlette'}))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


# --------------------------------------------------------------------------- layers and imports
# The layer order itself is import-linter's (.importlinter, `lint-imports` in scripts/test); these
# tests hold what it does not: no module-level cycle, and function-level imports only where listed.

CONTRACTS = PACKAGE.parents[1] / ".importlinter"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``mlgate.config.schema`` for src/mlgate/config/schema.py (a package's ``__init__``: the package)."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def package_modules(package: Path) -> frozenset[str]:
    """Every module name of the package."""
    return frozenset(module_name(p, package) for p in package.rglob("*.py"))


def _in_functions(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a function body (at any depth)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def package_imports(path: Path, package: Path = PACKAGE) -> Iterator[tuple[str, int, bool]]:
    """(imported module of the package, line, inside a function?) of each import in ``path``.

    ``from a.b import c`` imports the module ``a.b.c`` when there is one, else ``a.b``; relative
    imports are resolved against the module's own package.
    """
    name = module_name(path, package)
    modules = package_modules(package)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = _in_functions(tree)
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                own = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join([*own[: len(own) - node.level + 1], *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                yield target, node.lineno, id(node) in inside


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any depth (a lazy import counts)."""
    return {
        module_name(p, package): {t for t, _, _ in package_imports(p, package)} for p in sorted(package.rglob("*.py"))
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as ``[a, b, ..., a]`` (empty when there is none), by depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_module_level_import_cycle() -> None:
    """No module imports itself back through others (a function-level import counts)."""
    cycle = find_cycle(import_graph())
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The check above can fail: a lazy import that closes a loop is found and named."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import thing\n")
    assert find_cycle(import_graph(pkg)) == ["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]
    (pkg / "sub" / "c.py").write_text("def f():\n    import json\n")
    assert find_cycle(import_graph(pkg)) == []


def listed_function_imports() -> dict[str, set[str]]:
    """The ``[mlgate:function-level-imports]`` section of .importlinter: importer -> modules."""
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS, encoding="utf-8")
    return {importer: set(value.split()) for importer, value in parser["mlgate:function-level-imports"].items()}


def function_imports(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """importer -> {mlgate module imported inside one of its functions: first line}."""
    found: dict[str, dict[str, int]] = {}
    for path in sorted(package.rglob("*.py")):
        for target, line, lazy in package_imports(path, package):
            if lazy:
                found.setdefault(module_name(path, package), {}).setdefault(target, line)
    return found


def test_function_level_imports_of_mlgate_modules_are_the_listed_ones() -> None:
    """A lazy import hides a cycle or an upward import: only a heavy dependency justifies one."""
    listed = listed_function_imports()
    found = function_imports()
    unlisted = [
        f"{importer.replace('.', '/')}.py:{line}: {target}"
        for importer, targets in found.items()
        for target, line in targets.items()
        if target not in listed.get(importer, set())
    ]
    assert unlisted == [], "import these at the top of the module, or list them (with the reason) in .importlinter"
    stale = sorted(f"{i}: {t}" for i, targets in listed.items() for t in targets - set(found.get(i, {})))
    assert stale == [], "listed in .importlinter but no longer imported in a function: remove them"


def test_a_relative_import_in_a_function_counts_too(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("")
    (pkg / "high.py").write_text("import json\n\n\ndef f():\n    from . import low\n    from .low import x\n")
    assert function_imports(pkg) == {"pkg.high": {"pkg.low": 5}}


def test_import_linter_breaks_on_an_upward_import(tmp_path: Path) -> None:
    """The layers contract holds for real: a config module importing the gates is refused."""
    source = tmp_path / "src"
    shutil.copytree(PACKAGE, source / "mlgate", ignore=shutil.ignore_patterns("__pycache__"))
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(CONTRACTS), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(source)}
    kept = subprocess.run(lint, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert kept.returncode == 0, kept.stdout
    lineage = source / "mlgate" / "config" / "lineage.py"
    lineage.write_text(lineage.read_text() + "\n\ndef late():\n    from mlgate.gates import verdict\n")
    broken = subprocess.run(lint, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert broken.returncode == 1, broken.stdout
    assert "mlgate.config.lineage -> mlgate.gates.verdict" in broken.stdout


def _command_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The module's click commands: functions decorated with ``@click.command(...)``."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr == "command":
                    found.append(node)
    return found


def test_each_command_makes_exactly_one_api_call_and_never_exits() -> None:
    """A command parses, makes one :mod:`mlgate.api` call and shows it; only the edge decides exit codes."""
    modules = sorted((PACKAGE / "cli" / "commands").glob("*.py"))
    commands = 0
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in _command_functions(tree):
            commands += 1
            calls = [
                n.func.attr
                for n in ast.walk(func)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and isinstance(n.func.value, ast.Name)
                and n.func.value.id == "api"
            ]
            assert len(calls) == 1, f"{rel(path)}:{func.lineno} {func.name} calls api.{calls}"
        exits = [
            f"{rel(path)}:{n.lineno}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and (
                (isinstance(n.func, ast.Attribute) and n.func.attr in {"exit", "_exit"})
                or (isinstance(n.func, ast.Name) and n.func.id in {"exit", "SystemExit"})
            )
        ]
        raised = [
            f"{rel(path)}:{n.lineno}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Raise) and "SystemExit" in ast.unparse(n)
        ]
        assert exits + raised == [], "exit codes come from results, at the edge (mlgate/cli/base.py)"
    from mlgate.cli import main

    assert commands == len(main.commands), "every command lives in a module of mlgate/cli/commands/"


ADAPTERS = {"GitHub", "Registry"}
# The one place adapters are constructed (from the settings read once): the command's Workspace.
CONSTRUCTION = "config/workspace.py"


def test_no_library_module_constructs_a_registry_or_github_client() -> None:
    """Library functions use the Workspace they are given: none builds its own client from the environment."""
    found = []
    for path in modules():
        if rel(path).startswith("cli/") or rel(path) in {"api.py", CONSTRUCTION}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in ADAPTERS:
                    found.append(f"{rel(path)}:{node.lineno} {name}(")
    assert found == []


def test_the_workspace_builds_its_clients_on_first_use_once(tmp_path: Path) -> None:
    from mlgate.config.workspace import Settings, Workspace

    ws = Workspace(tmp_path, Settings(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"))
    assert (ws._registry, ws._github) == (None, None)
    assert ws.registry is ws.registry
    assert Workspace.of(ws) is ws
    assert Workspace.of(tmp_path).root == tmp_path
    with pytest.raises(Exception, match="no GitHub token"):
        _ = ws.github  # no token in these settings: only asking for the client fails
    secret = "ghp_FAKE_never_shown_0123456789"
    assert secret not in repr(Workspace(tmp_path, Settings(github_token=secret, org_token=secret)))


def test_the_registry_sets_mlflow_global_state_in_one_function() -> None:
    """os.environ and MLflow's global URIs are changed only in registry/mlflow.py's _configure_mlflow."""
    source = (PACKAGE / "registry" / "mlflow.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    writers = set()
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(func):
            text = ast.unparse(node) if isinstance(node, ast.Call | ast.Assign) else ""
            if any(
                w in text for w in ("set_tracking_uri(", "set_registry_uri(", "environ.setdefault(", "environ.pop(")
            ):
                writers.add(func.name)
            if isinstance(node, ast.Assign) and "os.environ[" in ast.unparse(node.targets[0]):
                writers.add(func.name)
    assert writers == {"_configure_mlflow"}
