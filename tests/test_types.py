"""The type checker's promises that mypy itself does not keep (scripts/test runs mypy).

- every ``# type: ignore`` in ``src/mlgate`` names its error code(s) and says why, on its line or
  in a comment on the line above (mypy's ``warn_unused_ignores`` removes the stale ones);
- the packages that decide verdicts and registry records stay under the strict override.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mlgate"
STRICT = {"mlgate.gates.*", "mlgate.config.*", "mlgate.registry.*", "mlgate.promotion.*"}
CODED = re.compile(r"# type: ignore\[[a-z-]+(, *[a-z-]+)*\]")


def _ignores() -> list[tuple[str, int, str, str]]:
    """(file, line number, line, the line above) of every type: ignore in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for at, line in enumerate(lines):
            if "type: ignore" in line:
                found.append((str(path.relative_to(ROOT)), at + 1, line, lines[at - 1] if at else ""))
    return found


def test_every_type_ignore_names_its_code_and_a_reason() -> None:
    for where, number, line, above in _ignores():
        coded = CODED.search(line)
        assert coded, f"{where}:{number}: a type: ignore without an error code: {line.strip()}"
        after = line[coded.end() :]
        has_reason = after.strip().startswith("#") or above.strip().startswith("#")
        assert has_reason, f"{where}:{number}: say why (a comment after the ignore or on the line above)"


def test_the_check_itself_catches_a_bare_ignore() -> None:
    assert not CODED.search("x = f()  # type: ignore")
    assert not CODED.search("x = f()  # type: ignore  # reason")
    assert CODED.search("x = f()  # type: ignore[arg-type]  # pandas-stubs gap")
    assert CODED.search("x = f()  # type: ignore[arg-type, misc]")


def test_the_strict_packages_stay_strict() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["files"] == ["src/mlgate"]
    assert mypy["warn_unused_ignores"] is True
    strict = [o for o in mypy["overrides"] if set(o["module"]) >= STRICT]
    assert strict, "the override for gates, config, registry and promotion is gone"
    for option in ("disallow_untyped_defs", "disallow_any_generics", "warn_return_any", "disallow_untyped_calls"):
        assert strict[0].get(option) is True, option
    # untyped third-party modules are listed by name, never ignored wholesale
    assert "ignore_missing_imports" not in mypy
