"""``models/<name>/release.yaml``: the desired registry version per stage, edited in place.

Edits keep the file's comments, key order and style (ruamel round-trip), so a promotion PR's
diff is the one line that changes.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from mlgate.config.workspace import RELEASE_FILE, model_names, spec_path
from mlgate.exceptions import InvalidInput
from mlgate.git import show


def release_path(root: Path, name: str) -> Path:
    """``models/<name>/release.yaml`` under ``root``."""
    return spec_path(root, name).with_name(RELEASE_FILE)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments and order survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    # an empty stage stays written as `null`, as people write it (ruamel would leave it blank)
    yaml.representer.add_representer(
        type(None), lambda rep, _none: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def set_stage(root: Path, name: str, stage: str, version: int | None) -> tuple[int | None, str]:
    """Write ``stage: version`` into the model's release.yaml; return (old version, new text)."""
    if not spec_path(root, name).is_file():
        raise InvalidInput(
            f"no spec for model '{name}'", hint=f"models in this repo: {', '.join(model_names(root)) or 'none'}"
        )
    path = release_path(root, name)
    yaml = _yaml()
    if path.is_file():
        doc = yaml.load(path.read_text(encoding="utf-8"))
    else:
        doc = yaml.load(
            f"# Desired registry state: merging a change here moves the MLflow aliases.\nmodel: {name}\nstages: {{}}\n"
        )
    stages = doc.setdefault("stages", {})
    if stages is None:
        doc["stages"] = stages = {}
    old = stages.get(stage)
    stages[stage] = version
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return (int(old) if old is not None else None), buffer.getvalue()


def stages_at(root: Path, name: str, ref: str) -> dict[str, int | None]:
    """The release's stages as of git ``ref`` ({} when the file did not exist there)."""
    rel = release_path(root, name).relative_to(root).as_posix()
    text = show(root, ref, rel)
    if text is None:
        return {}
    doc = YAML(typ="safe").load(text) or {}
    return {str(k): (int(v) if v is not None else None) for k, v in (doc.get("stages") or {}).items()}
