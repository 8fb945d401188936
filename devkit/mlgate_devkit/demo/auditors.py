"""The demo's last journey: what a model-risk officer hands a regulator.

Runs while the promotion journey's GitHub stand-in is still up, so the site shows the monitoring
issue the demo opened as an open alert. Two things come out of it:

1. ``mlgate site --output site/``: the governance site of the demo repo — every model × stage
   (desired vs actual, sync state, last verdict, monitoring, alerts, canary), a page per model and
   per version (rules, approvers, promotion history, trends, model card, lineage);
2. ``mlgate evidence credit --version N --output evidence/credit-vN.tar.gz`` for the version
   production holds, signed with an ed25519 key the demo makes (a team keeps its key in a secret),
   then ``mlgate evidence verify`` with the public key and against the registry and the repo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlgate import api
from mlgate_devkit.demo.promotions import Journey

MODEL = "credit"
KEY_ENV = "MLGATE_EVIDENCE_KEY"


def _signing_key(folder: Path) -> tuple[str, Path]:
    """A fresh ed25519 key pair: the private key's PEM text and the public key's PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = folder / "evidence-signing.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment for the block (as a workflow step's ``env:`` would)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def run_auditors(j: Journey, workdir: Path) -> dict[str, Any]:
    """Build the governance site and a signed evidence bundle of production credit; verify the bundle."""
    ws = api.workspace(j.repo, tracking_uri=j.uri)
    site = api.site(ws, api.SiteOptions(output=str(workdir / "site")))
    j.log(f"  mlgate site --output {workdir / 'site'}: {len(site.models)} models, {site.pages} pages")
    j.log(f"  open {site.index} in a browser (it works from file:// and on GitHub Pages: site.yml)")

    version = j.registry.alias_version(MODEL, "production")
    if version is None:
        raise RuntimeError("the demo's production credit is missing: the promotion journey did not run")
    folder = workdir / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    private, public = _signing_key(folder)
    bundle = folder / f"{MODEL}-v{version}-evidence.tar.gz"
    with _env(KEY_ENV, private):
        built = api.evidence(ws, api.EvidenceOptions(model=MODEL, version=version, output=str(bundle)))
    j.log(
        f"  mlgate evidence {MODEL} --version {version} --output {bundle}: {len(built.files)} files, "
        f"{'signed' if built.signed else 'unsigned'} ({KEY_ENV} holds the team's ed25519 key)"
    )
    checked = api.verify_evidence(ws, api.VerifyEvidenceOptions(bundle=str(bundle), public_key=str(public)))
    shown = "ok" if checked.ok else "; ".join(checked.mismatches)
    j.log(f"  mlgate evidence verify {bundle.name} --public-key {public.name}: {shown}")
    return {
        "site": site.as_dict(),
        "evidence": built.as_dict(),
        "verify": checked.as_dict(),
        "public_key": str(public),
    }
