"""Errors raised by the mlgate library; each class owns its exit code.

The CLI catches :class:`MlgateError` once, prints the message to stderr and exits with
``exit_code`` (DESIGN.md: 0 ok, 1 blocked, 2 invalid input, 3 external service)::

    MlgateError
    ├── InvalidInput (2)
    │   ├── SpecError        one or more problems in specs, policies, releases or data
    │   └── UnsafeModel      a model artifact mlgate does not trust to load
    ├── Blocked (1)          a blocking gate failed or a promotion is not allowed
    │   └── CustodyViolation what git asks for and what the registry holds disagree (after the merge)
    │       └── TamperedModel   a version's bytes differ from the digest pinned or recorded for it
    └── ExternalServiceError (3)
        ├── RegistryUnavailable   MLflow did not answer after retries
        ├── DvcError              a DVC remote or command failed
        └── GitError              git failed in a way the user cannot fix by editing files
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    line: int
    column: int
    loc: tuple[str | int, ...]
    message: str

    @property
    def key_path(self) -> str:
        """The key path as written in messages, e.g. ``gates -> performance -> 0 -> min``."""
        return " -> ".join(str(part) for part in self.loc)

    def __str__(self) -> str:
        """``file:line:column: key path: message``, as printed to the user."""
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        subject = f"{self.key_path}: " if self.loc else ""
        return f"{where}: {subject}{self.message}"

    def as_dict(self) -> dict[str, object]:
        """The problem as ``--json`` output lists it."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key_path,
            "message": self.message,
        }


class MlgateError(Exception):
    """Base class: every error mlgate raises on purpose."""

    exit_code: ClassVar[int] = 2
    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        """An error with ``message``; ``hint`` (else the class's own) says how to fix it."""
        super().__init__(message)
        self.hint = hint or self.hint

    @property
    def message(self) -> str:
        """The error message without the hint."""
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidInput(MlgateError):
    """A spec, policy, release, data file or argument is wrong; fix the input."""

    exit_code = 2


class SpecError(InvalidInput):
    """A list of located problems; printed one per line."""

    def __init__(self, problems: list[Problem], *, hint: str = "") -> None:
        """One error for all ``problems``, its message one problem per line."""
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems), hint=hint)


class UnsafeModel(InvalidInput):
    """The serialized model holds types outside mlgate's allow-list, or runs code the policy does not trust."""


class TrainingFailed(InvalidInput):
    """The spec's own training command failed, timed out, or did not log exactly one model."""

    hint = "fix the training command (run it by hand with the MLGATE_* variables set), then `mlgate train` again"


class Blocked(MlgateError):
    """A blocking gate failed or a promotion is not allowed."""

    exit_code = 1


class CustodyViolation(Blocked):
    """The registry does not hold what git asks for: an alias moved outside mlgate, or an unpinned release."""


class TamperedModel(CustodyViolation):
    """A model version's downloaded files do not have the digest pinned in release.yaml (or recorded for it)."""

    hint = (
        "restore the version's files in the artifact store from a backup, or promote another version "
        "(a release.yaml pull request); nothing was loaded"
    )


class ExternalServiceError(MlgateError):
    """A service outside mlgate failed after retries."""

    exit_code = 3


class RegistryUnavailable(ExternalServiceError):
    """The MLflow tracking server or registry failed."""

    hint = "check MLFLOW_TRACKING_URI and that the server is up, then re-run"


class DvcError(ExternalServiceError):
    """DVC could not fetch or hash data."""

    hint = (
        "check the DVC remote (`dvc remote list`, `dvc status -c`); if the data was never "
        "pushed, run `dvc push` where it was added; then re-run"
    )


class GitError(ExternalServiceError):
    """git failed."""
