"""Evidence bundles for auditors: one verifiable, self-contained archive per model version (``mlgate evidence``).

``build_bundle`` writes the bundle (deterministic tar.gz: manifest, in-toto statement with a SLSA
provenance predicate, optional DSSE signature); ``verify_bundle`` checks one, offline and against the
registry and repo. See docs/design.md "Evidence bundles".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.evidence._bundle import (
        BuildResult,
        build_bundle,
        git_blob_sha,
        manifest_digest,
        manifest_text,
        top_folder,
    )
    from mlgate.evidence._statement import KEY_ENV, PUBLIC_KEY_ENV
    from mlgate.evidence._verify import CheckStatus, Verification, VerifyCheck, verify_bundle

__all__ = [
    "KEY_ENV",
    "PUBLIC_KEY_ENV",
    "BuildResult",
    "CheckStatus",
    "Verification",
    "VerifyCheck",
    "build_bundle",
    "git_blob_sha",
    "manifest_digest",
    "manifest_text",
    "top_folder",
    "verify_bundle",
]

# public name -> its private module (`module:name`)
_LAZY: dict[str, str] = {
    "BuildResult": "_bundle:BuildResult",
    "CheckStatus": "_verify:CheckStatus",
    "KEY_ENV": "_statement:KEY_ENV",
    "PUBLIC_KEY_ENV": "_statement:PUBLIC_KEY_ENV",
    "Verification": "_verify:Verification",
    "VerifyCheck": "_verify:VerifyCheck",
    "build_bundle": "_bundle:build_bundle",
    "git_blob_sha": "_bundle:git_blob_sha",
    "manifest_digest": "_bundle:manifest_digest",
    "manifest_text": "_bundle:manifest_text",
    "top_folder": "_bundle:top_folder",
    "verify_bundle": "_verify:verify_bundle",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
