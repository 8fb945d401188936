"""Documentation gate: the model-card and monitoring fields a policy requires are filled in."""

from __future__ import annotations

from typing import Any

from mlgate.config import ModelSpec
from mlgate.gates import Measurement


def field_value(spec: ModelSpec, dotted: str) -> Any:
    """The spec's value at a dotted path such as ``model_card.license`` (None if absent)."""
    value: Any = spec
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def documented(spec: ModelSpec, dotted: str) -> Measurement:
    """1.0 when ``dotted`` (e.g. ``monitoring.owner``) is present and non-empty, else 0.0."""
    value = field_value(spec, dotted)
    filled = bool(value.strip()) if isinstance(value, str) else bool(value)
    where = f"models/{spec.name}/model.yaml"
    explanation = f"{dotted} is filled in" if filled else f"{dotted} is empty: fill it in in {where}"
    return Measurement(value=1.0 if filled else 0.0, explanation=explanation)
