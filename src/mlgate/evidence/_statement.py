"""The bundle's in-toto Statement (SLSA Provenance v1 predicate) and its optional DSSE envelope (ed25519).

Signing reads a PEM ed25519 private key from ``$MLGATE_EVIDENCE_KEY`` (the key itself, never a path:
a CI secret); verifying reads a PEM public key from a file (``--public-key`` or
``$MLGATE_EVIDENCE_PUBLIC_KEY``). The signature is over DSSE's pre-authentication encoding
``DSSEv1 <len(type)> <type> <len(body)> <body>``; the key id is the sha256 of the public key's raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from mlgate.exceptions import InvalidInput

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "https://mlgate.dev/evidence/train/v1"
"""What ``buildType`` says: a version trained (or registered) under mlgate's governance (docs/design.md)."""
LOCAL_BUILDER = "urn:mlgate:builder:local"
KEY_ENV = "MLGATE_EVIDENCE_KEY"
PUBLIC_KEY_ENV = "MLGATE_EVIDENCE_PUBLIC_KEY"


def canonical(document: Any) -> bytes:
    """JSON as the bundle stores it: sorted keys, two-space indent, a final newline (stable bytes)."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``body`` (what is signed)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def _key_id(public: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def signing_key(private_pem: str) -> Any:
    """The ed25519 private key in ``private_pem`` (from :data:`KEY_ENV`).

    A key that is not a PEM ed25519 private key is :class:`InvalidInput` (exit 2) naming the variable,
    never quoting the key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(private_pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(
            f"${KEY_ENV} does not hold a PEM ed25519 private key (unencrypted)",
            hint="make one with `openssl genpkey -algorithm ed25519 -out evidence.key` and set "
            f"{KEY_ENV} to the file's content; or unset it to write an unsigned bundle",
        )
    return key


def sign(statement: bytes, key: Any) -> bytes:
    """The DSSE envelope over ``statement``, signed with ``key`` (:func:`signing_key`)."""
    signature = key.sign(pae(PAYLOAD_TYPE, statement))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(statement).decode("ascii"),
        "signatures": [{"keyid": _key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return canonical(envelope)


def load_public_key(path: Path, source: str) -> Any:
    """The ed25519 public key in PEM file ``path`` (``source`` says where the path came from); exit 2 otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as err:
        raise InvalidInput(f"{path} ({source}): cannot be read: {err.strerror}") from None
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(
            f"{path} ({source}): not a PEM ed25519 public key",
            hint="derive it from the signing key: openssl pkey -in evidence.key -pubout -out evidence.pub",
        )
    return key


def check_envelope(envelope: bytes, statement: bytes, public: Any | None) -> tuple[str, str]:
    """(status, detail) of the DSSE envelope against ``statement``'s bytes and ``public`` (None: no key given).

    status: ``verified``, ``not_checked`` (signed, no key), or ``mismatch`` with what differs.
    """
    from cryptography.exceptions import InvalidSignature

    try:
        found = json.loads(envelope)
        payload = base64.b64decode(found["payload"], validate=True)
        kind = str(found["payloadType"])
        signatures = [(str(s.get("keyid", "")), base64.b64decode(s["sig"], validate=True)) for s in found["signatures"]]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return "mismatch", f"not a DSSE envelope ({type(err).__name__})"
    if kind != PAYLOAD_TYPE:
        return "mismatch", f"payloadType is {kind!r}, not {PAYLOAD_TYPE}"
    if payload != statement:
        return "mismatch", "its payload is not statement.intoto.json"
    if not signatures:
        return "mismatch", "no signature"
    if public is None:
        return "not_checked", "signed, but no public key was given (pass --public-key)"
    wanted = _key_id(public)
    for keyid, sig in signatures:
        try:
            public.verify(sig, pae(kind, payload))
        except InvalidSignature:
            continue
        return "verified", f"ed25519 signature by key {keyid or wanted}"
    return "mismatch", f"no signature verifies with the public key {wanted[:16]}…"


def statement(
    subject: list[dict[str, Any]],
    build: dict[str, Any],
    run: dict[str, Any],
    manifest_digest: str,
) -> dict[str, Any]:
    """The in-toto Statement v1 with the SLSA Provenance v1 predicate (``build``: buildDefinition; ``run``: runDetails).

    Its byproduct is the manifest's digest without the statement's own line, so a signature over
    the statement covers every other file of the bundle.
    """
    details = dict(run)
    details["byproducts"] = [
        {
            "name": "MANIFEST.sha256",
            "digest": {"sha256": manifest_digest},
            "annotations": {"covers": "every line of MANIFEST.sha256 but the one of statement.intoto.json"},
        }
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {"buildDefinition": build, "runDetails": details},
    }
