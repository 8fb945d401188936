"""The package layout keeps its promises: each outside system behind one adapter, a light import.

- MLflow is imported only in ``mlgate/registry/``, httpx only in ``mlgate/github/``, click only in
  ``mlgate/cli/``, pyspark (and py4j) only in ``mlgate/registry/_spark.py`` (the Spark adapter),
  FastAPI, Starlette, uvicorn, SQLAlchemy, prometheus_client and psycopg only in ``mlgate/serving/``;
  git runs only in ``mlgate/git.py`` (and child processes only there, in
  ``mlgate/data/``, which runs ``dvc``, and in ``mlgate/training/_command.py``, which runs a spec's own
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
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mlgate"
TOP_LEVEL = {
    "__init__.py",
    "_lazy.py",
    "exceptions.py",
    "jsonout.py",
    "git.py",
    "outcome.py",
    "api.py",
}  # api: the CLI's facade; _lazy: the packages' lazy surfaces
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


def offenders(library: str, allowed: str | tuple[str, ...]) -> list[str]:
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
        # the Spark adapter (session, model on the executors) and the gates' Spark aggregations (gate --engine spark)
        ("pyspark", ("registry/_spark.py", "gates/_spark.py")),
        ("py4j", "registry/_spark.py"),
        ("fastapi", "serving/"),
        ("starlette", "serving/"),
        ("uvicorn", "serving/"),
        ("sqlalchemy", "serving/"),
        ("prometheus_client", "serving/"),
        ("psycopg", "serving/"),
    ],
)
def test_an_outside_library_is_imported_by_its_adapter_only(library: str, allowed: str | tuple[str, ...]) -> None:
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
TRAINING_COMMAND = "training/_command.py"


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
        used = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        adapters = {
            (module, name)
            for module, name in used
            if module in ("mlgate.registry", "mlgate.git")
            or (module, name) in {("mlgate.github", "GitHub"), ("mlgate", "git")}
        }
        assert not adapters, rel(path)


def test_only_the_basics_live_at_the_top_level() -> None:
    top = {p.name for p in PACKAGE.glob("*.py")}  # the demo lives in devkit/, outside the wheel
    assert top == TOP_LEVEL, "put the module in the subpackage of its concern"
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == {
        "cli",
        "config",
        "data",
        "evidence",
        "gates",
        "github",
        "monitoring",
        "promotion",
        "registry",
        "report",
        "scoring",
        "serving",
        "site",
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
    """``mlgate.config.schema`` for src/mlgate/config/_schema.py (a package's ``__init__``: the package)."""
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
    # imports under `if TYPE_CHECKING:` never run (a lazy package __init__'s, for type checkers)
    checking = {
        id(child)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for child in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
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
    lineage = source / "mlgate" / "config" / "_lineage.py"
    lineage.write_text(lineage.read_text() + "\n\ndef late():\n    from mlgate.gates import verdict\n")
    broken = subprocess.run(lint, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert broken.returncode == 1, broken.stdout
    assert "mlgate.config._lineage -> mlgate.gates" in broken.stdout


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
        assert exits + raised == [], "exit codes come from results, at the edge (mlgate/cli/_base.py)"
    import click

    from mlgate.cli import main

    # a group (`evidence`) is not a command: each of its subcommands is
    leaves = sum(len(c.commands) if isinstance(c, click.Group) else 1 for c in main.commands.values())
    assert commands == leaves, "every command lives in a module of mlgate/cli/commands/"


ADAPTERS = {"GitHub", "Registry"}
# The one place adapters are constructed (from the settings read once): the command's Workspace.
CONSTRUCTION = "config/_workspace.py"


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
    from mlgate.config import Settings, Workspace

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
    """os.environ and MLflow's global URIs are changed only in registry/_mlflow.py's _configure_mlflow."""
    source = (PACKAGE / "registry" / "_mlflow.py").read_text(encoding="utf-8")
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


# --- public surfaces (written by the surface codemod; a fixed block) ---
# Each package's __init__ (its __all__) is its contract; its modules are private (_name.py).
# Outside a package (and its subpackages) nothing imports its private modules; two exceptions for tests:
# a monkeypatch.setattr/delattr string target may name a private module (a module-level name
# is patched where it is looked up), and a test may import underscore names from a private
# module (a white-box test of a helper: `from mlgate.gates._drift import _smirnov_sf`).
ROOT = PACKAGE.parents[1]
OUTSIDE_CODE = ("tests", "devkit", "benchmarks", "train")


def packages() -> list[str]:
    """Every package under src/mlgate, dotted."""
    return sorted(".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py"))


def private_part(dotted: str) -> bool:
    """Whether a dotted mlgate path goes through a private module (``mlgate.gates._drift``)."""
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split(".")[1:])


def package_of(path: Path) -> str | None:
    """The dotted package a file of src/mlgate belongs to (None outside src/mlgate)."""
    if not path.is_relative_to(PACKAGE):
        return None
    return ".".join(path.parent.relative_to(PACKAGE.parent).parts)


def surface(package: str) -> set[str]:
    """A package's public names: its __all__, its subpackages and (at the top) its modules."""
    folder = PACKAGE.parent.joinpath(*package.split("."))
    names = public_names(folder) | {p.parent.name for p in folder.glob("*/__init__.py")}
    if folder == PACKAGE:
        names |= {p.stem for p in folder.glob("*.py")}
    return names


def test_every_module_inside_a_package_is_private() -> None:
    public = [
        rel(path)
        for path in modules()
        if path.name not in ("__init__.py", "__main__.py")
        and not path.name.startswith("_")
        and path.parent != PACKAGE  # top-level modules are single-module surfaces (see TOP_LEVEL)
    ]
    assert public == [], "name it _module.py and re-export what others use in the package __init__"


@pytest.mark.parametrize("package", packages())
def test_every_package_states_its_surface(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names)), package
    missing = [name for name in names if getattr(module, name, None) is None]
    assert missing == [], f"{package}.__all__ names what it does not have"


def mlgate_imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of mlgate in a file, at any depth (names empty: ``import``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mlgate" or node.module.startswith("mlgate."):
                yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "mlgate" or alias.name.startswith("mlgate."):
                    yield node.lineno, alias.name, []


def test_no_package_imports_another_packages_private_modules() -> None:
    found = []
    for path in modules():
        mine = package_of(path)
        for line, module, names in mlgate_imports(path):
            targets = [module] if not names else [f"{module}.{n}" for n in names]
            for target in targets:
                if not private_part(target):
                    continue
                owner = target.split(".")
                owner = ".".join(owner[: next(i for i, p in enumerate(owner) if i and p.startswith("_"))])
                if not (mine == owner or (mine or "").startswith(owner + ".")):  # a package and its subpackages
                    found.append(f"{rel(path)}:{line}: {target}")
    assert found == [], "import the package (its __init__), not its private modules"


def test_code_outside_a_package_imports_its_surface_only() -> None:
    """From a package: names in its __all__; private modules only as the two test exceptions above."""
    found = []
    files = sorted(PACKAGE.rglob("*.py"))
    for name in OUTSIDE_CODE:
        files += sorted((ROOT / name).rglob("*.py"))
    for path in files:
        mine = package_of(path)
        white_box = path.is_relative_to(ROOT / "tests")
        where = path.relative_to(ROOT)
        for line, module, names in mlgate_imports(path):
            if private_part(module):
                owner = module.split(".")
                owner = ".".join(owner[: next(i for i, p in enumerate(owner) if i and p.startswith("_"))])
                if mine is not None and (mine == owner or mine.startswith(owner + ".")):
                    continue  # a module of the same package (or of a package it is inside)
                if white_box and names and all(n.startswith("_") for n in names):
                    continue  # a white-box test of a helper
                found.append(f"{where}:{line}: {module}")
                continue
            if module == mine or (mine or "").startswith(module + ".") or not names or module not in packages():
                continue  # its own package, or one it is inside
            public = surface(module)
            found += [f"{where}:{line}: {n} from {module}" for n in names if n not in public]
    assert found == [], "import from the package, and add the name to its __all__"


# tests that read module names (not import them): which private modules a command's process loaded
MODULE_NAME_READERS = {"test_imports.py"}


def test_patch_targets_and_module_strings_name_real_paths() -> None:
    """A string naming a private module appears in a test only as a monkeypatch target."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = {
            id(node.args[0])
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("setattr", "delattr")
            and node.args
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            if not (text.startswith("mlgate.") and private_part(text) and " " not in text):
                continue
            if id(node) not in targets:
                if path.name in MODULE_NAME_READERS:  # names a module it looks for: the module must exist
                    assert importlib.util.find_spec(text), f"{path.relative_to(ROOT)}:{node.lineno}: no module {text}"
                else:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
                continue
            parts = text.split(".")
            module = importlib.import_module(".".join(parts[:-1]))
            assert hasattr(module, parts[-1]), f"{path.relative_to(ROOT)}:{node.lineno}: {text} does not exist"
    assert found == []


# --- end of public surfaces ---
