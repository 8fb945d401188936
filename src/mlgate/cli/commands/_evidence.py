"""``evidence`` (``build``, the default) and ``evidence verify``: one version's evidence bundle for auditors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, JSON_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


class DefaultGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to ``build`` (``mlgate evidence MODEL``)."""

    default = "build"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert the default subcommand before an argument that is no subcommand (``--help`` stays the group's)."""
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup)
def evidence() -> None:
    """Evidence bundles for auditors: `mlgate evidence MODEL --version N --output F.tar.gz`, `mlgate evidence verify F`.

    A bundle holds one version's verdicts and reports, model card, the spec, policies and params as
    judged, data md5s, training run and environment, approvals, audit records and monitoring, with a
    sha256 manifest and an in-toto statement (SLSA provenance); signed (DSSE, ed25519) when
    $MLGATE_EVIDENCE_KEY holds a PEM private key.
    """


def _show_build(result: Any, _opts: api.EvidenceOptions) -> None:
    state = "signed" if result.signed else "unsigned"
    ui.success(f"evidence: {result.path} ({len(result.files)} files, {state})")


@evidence.command("build")
@click.argument("model")
@click.option("--version", "version", type=click.IntRange(min=1), required=True, help="The registered version.")
@click.option("--output", required=True, metavar="FILE.tar.gz", help="Where to write the bundle.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.EvidenceOptions, show=_show_build)
def build(ws: Workspace, opts: api.EvidenceOptions) -> Any:
    """Write MODEL's version N evidence bundle (a deterministic tar.gz; exit 1 when its files were tampered with)."""
    return api.evidence(ws, opts, FEEDBACK)


def _show_verify(result: Any, _opts: api.VerifyEvidenceOptions) -> None:
    for check in result.checks:
        if check.name == "signature" and check.status == "not_checked":
            ui.warn("signature: not checked (pass --public-key)")
            continue
        ui.info(f"{check.name}: {check.status} — {check.detail}")
    for line in result.mismatches:
        ui.data(line)
    label = f"{result.model} v{result.version}" if result.model else str(result.path)
    if result.ok:
        ui.success(f"verified: {label} ({result.path})")
    else:
        ui.error(
            f"{len(result.mismatches)} mismatch(es) in {label}",
            "the bundle, the registry or the repo no longer hold the same facts: see each line above",
        )


@evidence.command("verify")
@click.argument("bundle", metavar="FILE.tar.gz")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--offline", is_flag=True, help="Check the bundle alone: no registry download, no git comparison.")
@click.option(
    "--public-key",
    metavar="PEMFILE",
    envvar="MLGATE_EVIDENCE_PUBLIC_KEY",
    help="The ed25519 public key (PEM) that checks the signature (env MLGATE_EVIDENCE_PUBLIC_KEY).",
)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.VerifyEvidenceOptions, show=_show_verify)
def verify(ws: Workspace, opts: api.VerifyEvidenceOptions) -> Any:
    """Check a bundle: every digest, the signature, and (online) the registry's files, audit records and git.

    Exit 0 when everything matches (a signed bundle checked without a key says `signature: not
    checked`); 1 with one line per mismatch; 2 when FILE is not a bundle.
    """
    return api.verify_evidence(ws, opts)


COMMANDS = [evidence]
