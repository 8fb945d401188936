"""The service's Dockerfile template, checked statically (no container engine runs here).

Slim, version-pinned base; every Python package at constraints.txt's pin; a non-root user;
a HEALTHCHECK on /health at the port it serves; no secret in any layer or variable.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
DOCKERFILE = PROJECT / "src" / "mlgate" / "resources" / "serve" / "Dockerfile"
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|PGPASS|MYSQL_PWD", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def only(kind: str) -> list[str]:
    return [args for word, args in instructions() if word == kind]


def test_the_base_is_a_slim_python_at_a_pinned_version() -> None:
    (base,) = only("FROM")
    image, _, tag = base.partition(":")
    assert image == "python"
    assert "slim" in tag
    assert re.match(r"3\.11\.\d+-slim", tag), "a patch version, not a moving tag"


def test_it_runs_as_a_non_root_user_after_the_last_install() -> None:
    steps = instructions()
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users, "no USER: the service would run as root"
    last_run = max(i for i, (word, _) in enumerate(steps) if word == "RUN")
    assert users[-1] > last_run
    user = steps[users[-1]][1]
    assert user not in ("root", "0", "0:0")
    assert re.search(rf"useradd .*--uid {user}\b", " ".join(only("RUN")))


def test_the_healthcheck_asks_health_on_the_served_port() -> None:
    (check,) = only("HEALTHCHECK")
    (port,) = only("EXPOSE")
    assert f"http://127.0.0.1:{port}/health" in check
    assert "--timeout=" in check
    (entry,) = only("ENTRYPOINT")
    assert "mlgate serve" in entry
    assert f"--port {port}" in entry
    assert "--host 0.0.0.0" in entry


def test_no_secret_is_baked_in() -> None:
    for word, args in instructions():
        if word in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_WORDS.search(n)], f"{word} {args}"
        if word in ("COPY", "ADD"):
            assert not re.search(r"\.env|token|secret|\.pem|\.key|netrc|pgpass", args, re.IGNORECASE), args
    assert not only("ADD"), "ADD fetches URLs and unpacks archives: COPY says what goes in"


@pytest.mark.parametrize("package", ["fastapi", "uvicorn", "sqlalchemy", "prometheus-client", "psycopg"])
def test_every_package_is_installed_at_the_constraints_pin(package: str) -> None:
    runs = " ".join(only("RUN"))
    assert "-c /tmp/constraints.txt" in runs
    assert "mlgate[serve]" in runs
    assert any(src.split()[0] == "constraints.txt" for src in only("COPY"))
    pins = {}
    for line in (PROJECT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not pinned"
            pins[name.lower().replace("_", "-")] = version
    serve_extra = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    named = {re.split(r"[\[<>=]", requirement)[0].lower() for requirement in serve_extra}
    assert package in named
    assert package in pins
