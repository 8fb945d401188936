"""Errors raised by the mlgate library; each class owns its exit code.

The CLI catches :class:`MlgateError` once, prints the message to stderr and exits with
``exit_code`` (0 ok, 1 blocked, 2 invalid input, 3 external service). The tree of subclasses,
with their exit codes, is in docs/design.md "Exit codes" (``tests/test_exceptions.py`` keeps it
equal to the classes, including those other modules define).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

# scheme://userinfo@ — userinfo runs to the authority's last '@' (a password may hold one unescaped)
# and never past the path, query, fragment, whitespace or quotes that end a URL in a message
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"<>`]*)@")
MASK = "***"


def mask_secrets(text: str) -> str:
    """``text`` with the credentials of every URL in it masked; the one masking function.

    ``http://user:secret@host`` becomes ``http://user:***@host`` (the user name stays: it helps
    tell stores apart and is no secret). Over HTTP(S) a user part alone, ``https://TOKEN@host``,
    is how tokens travel (GitHub's), so it becomes ``https://***@host``; a database URL's lone
    user (``postgresql://mlgate@db/audit``, the password in PGPASSWORD) is a name and stays.
    Everything else, the host included, stays.
    Every edge where mlgate prints or writes text (the CLI's output and errors, JSON, reports,
    logs) passes through it, so a tracking URI with a password never leaves the process.
    """
    if "@" not in text:  # the common case, cheaply
        return text

    def masked(match: re.Match[str]) -> str:
        scheme = match.group("scheme")
        user, colon, _password = match.group("userinfo").partition(":")
        if colon:
            return f"{scheme}{user}:{MASK}@"
        return f"{scheme}{MASK}@" if scheme.lower().rstrip(":/").endswith(("http", "https")) else match.group(0)

    return _USERINFO.sub(masked, text)


def mask_deep(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with :func:`mask_secrets` applied to every string."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {mask_deep(k): mask_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_deep(v) for v in value]
    return value


EXCERPT_CHARS = 80
"""How much of an offending data value an error message quotes (a CSV field may be megabytes long)."""


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``value`` as an error message quotes it: its ``repr``, bounded to ``limit`` characters of the value.

    Every message that echoes a data value (an input cell, a JSON field, a YAML scalar) goes
    through here, so a 30 MB field makes a short error: ``'abc…' … (31457280 bytes)``. The
    size is of the value's text in UTF-8 (what the file held), so the reader can find it.
    """
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(value)
    size = len(text.encode("utf-8", errors="replace"))
    return f"{text[:limit]!r}… ({size} bytes)"


class MaskedStream(io.TextIOBase):
    """A text stream writing to ``target`` with URL credentials masked (MLflow prints run links itself)."""

    def __init__(self, target: Any) -> None:
        """Write through to ``target`` (e.g. ``sys.stderr``)."""
        self.target = target

    def write(self, text: str) -> int:
        """Write ``text`` masked; the length of ``text`` (as the caller wrote it)."""
        self.target.write(mask_secrets(text))
        return len(text)

    def flush(self) -> None:
        """Flush the target."""
        self.target.flush()


class _MaskedRecord(logging.LogRecord):
    """A log record whose message has its URL credentials masked (MLflow's errors name the URI)."""

    def getMessage(self) -> str:
        """The formatted message, masked."""
        return mask_secrets(super().getMessage())


def mask_logs() -> None:
    """Mask URL credentials in every log record from now on, whichever library logs it."""
    logging.setLogRecordFactory(_MaskedRecord)


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
        """The error message without the hint, URL credentials masked (it may quote a service's error)."""
        return mask_secrets(str(self.args[0]) if self.args else self.__class__.__name__)


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


# S3's answers to a request whose key is wrong, unknown, expired or not allowed (AWS, MinIO, moto alike)
_S3_REFUSALS = frozenset(
    {
        "403",  # a HEAD request's refusal: S3 sends no body, so botocore has only the status
        "AccessDenied",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
S3_CREDENTIALS_HINT = (
    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN with temporary keys, or "
    "AWS_PROFILE) for the S3 endpoint (MLFLOW_S3_ENDPOINT_URL for MLflow's artifacts, the DVC remote's "
    "endpointurl for data), and that the key may read and write the bucket; see docs/deploy.md"
)


def s3_refusal(err: BaseException) -> str:
    """Why an S3 call was refused for its credentials (botocore's error code), from ``err``'s chain; '' if not.

    Read from the error's type name and S3's error code, never its message: botocore need not be
    installed (it comes with the ``s3`` extra) and an S3 answer names no secret. The credentials'
    values are never part of the result, only what S3 said about them.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        if kind.__module__.startswith("botocore"):
            if kind.__name__ == "NoCredentialsError":
                return "no AWS credentials were found"
            if kind.__name__ == "PartialCredentialsError":
                return "the AWS key is incomplete"
            response = getattr(current, "response", None)
            code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
            if code in _S3_REFUSALS:
                return f"S3 refused the AWS credentials ({code})"
        current = current.__cause__ or current.__context__
    return ""


# Which extra of the mlgate package brings each optional top-level module (pyproject.toml's
# [project.optional-dependencies]). MLflow brings fastapi, uvicorn and SQLAlchemy with it today,
# but they are listed under `serve` too: a slimmer MLflow must not turn their absence into a bug.
EXTRA_OF_MODULE = {
    "fastapi": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "sqlalchemy": "serve",
    "psycopg": "serve",
    "pymysql": "mysql",
    "pyspark": "spark",
    "py4j": "spark",
    "xgboost": "byo",
    "lightgbm": "byo",
    "deepchecks": "deepchecks",
    # reason codes of scikit-learn tree ensembles (shap's TreeExplainer) and what shap imports
    "shap": "shap",
    "numba": "shap",
    "llvmlite": "shap",
    "slicer": "shap",
    # MLflow's S3 artifact repository (clients of a server without proxied artifacts) and DVC's S3 remote
    "boto3": "s3",
    "botocore": "s3",
    "dvc_s3": "s3",
    "s3fs": "s3",
}


class MissingExtra(InvalidInput):
    """An optional dependency is not installed: the message names it and the extra that brings it."""

    def __init__(self, module: str, extra: str, needed_by: str = "") -> None:
        """``module`` could not be imported; ``extra`` is the mlgate extra that installs it."""
        self.module, self.extra = module, extra
        what = f"{needed_by} needs" if needed_by else "this needs"
        super().__init__(
            f"{what} the optional package '{module}', which is not installed",
            hint=f"pip install 'mlgate[{extra}]' (with -c constraints.txt for the tested versions), then re-run",
        )


def missing_extra(err: BaseException, needed_by: str = "") -> MissingExtra | None:
    """The :class:`MissingExtra` an import error means, or None when it is not an optional module of mlgate's."""
    if not isinstance(err, ModuleNotFoundError) or not err.name:
        return None
    top = err.name.split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtra(top, extra, needed_by) if extra else None
