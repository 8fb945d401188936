"""Loading policies, resolving ``extends`` chains into one effective policy.

Each file in a chain is validated on its own (so an error names the file it is in), then the
chain is merged base-first: a rule whose id matches a base rule replaces it, new rules are
appended, settings set in the child override the base, and a stage defined in the child
replaces the base's definition of that stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.config._catalog import BUILTIN_RULE_PREFIX, GATE_FAMILIES
from mlgate.config._lineage import canonical_hash
from mlgate.config._schema import (
    POLICY_FOLDER,
    Gates,
    Policy,
    Promotion,
    Settings,
    Training,
    display_path,
    is_absolute,
    parse,
)
from mlgate.config._yamlio import Document, load
from mlgate.exceptions import Problem, SpecError


@dataclass(frozen=True)
class ResolvedPolicy:
    """The effective policy of a model, with the files it came from and its hash."""

    policy: Policy
    files: tuple[str, ...]
    sha256: str

    @property
    def file(self) -> str:
        """The file the spec names (the most derived one)."""
        return self.files[-1]


def no_champion_stage(policy_file: str) -> str:
    """Why a policy has no champion: its ``promotion.order`` is empty (what gates skip with and validate warns)."""
    return (
        f"no champion stage: policy {policy_file} (with what it extends) sets no promotion.order, whose last "
        "stage holds the champion, so max_regression rules have nothing to compare with"
    )


def rule_id(family: str, rule: Any) -> str:
    """A rule's id: explicit, or derived from what it checks (``performance.recall.<class>`` for a per-class rule)."""
    if rule.id:
        return str(rule.id)
    subject = getattr(rule, "metric", None) or getattr(rule, "field", "")
    label = getattr(rule, "class_", None)
    # a per-class rule per class: recall of 'mlops' and of 'nlp' are two rules, not one id twice
    return f"{family}.{subject}" if label is None else f"{family}.{subject}.{label}"


def _check_reference(target: Path, resolved: Path, chain: list[tuple[Path, Policy]], referrer: Any, root: Path) -> None:
    """An ``extends`` must name an existing file that is not already in the chain."""
    doc, loc = referrer
    if any(resolved == seen for seen, _ in chain):
        names = " -> ".join([*(display_path(p, root) for p, _ in chain), display_path(target, root)])
        raise SpecError([doc.problem(loc, f"extends cycle: {names}")])
    if not target.is_file():
        raise SpecError([doc.problem(loc, f"policy file not found: {display_path(target, root)}")])


def _check_inside(path: Path, referrer: Any, root: Path) -> None:
    """A policy file must be in ``policies/`` of ``root``, after following symlinks.

    ``referrer`` is the (document, key) of the ``extends`` naming ``path``, or None for the file
    a chain starts from. An absolute ``extends``, one whose ``..`` leaves ``policies/``, or a
    symlink out of it could let a pull request judge its model by a file it wrote elsewhere.
    """
    folder = root.resolve() / POLICY_FOLDER
    if referrer is None:
        if "\0" in str(path) or not path.resolve().is_relative_to(folder):
            shown = os.path.relpath(path.absolute(), root.absolute())
            message = f"resolves to a file outside {POLICY_FOLDER}/ of this repository"
            raise SpecError([Problem(shown, 0, 0, (), message)])
        return
    doc, loc = referrer
    extends = str(doc.data.get("extends"))
    if is_absolute(extends) or "\\" in extends or "\0" in extends:
        inside, link = False, ""
    else:
        resolved = path.resolve()
        inside = resolved.is_relative_to(folder)
        stays = Path(os.path.normpath(path.absolute())).is_relative_to(root.absolute() / POLICY_FOLDER)
        link = f" (a link to {resolved})" if stays else ""
    if not inside:
        message = f"must name a file under {POLICY_FOLDER}/ in this repository, got {extends!r}{link}"
        raise SpecError([doc.problem(loc, message)])


def _check_unique_ids(policy: Policy, doc: Document) -> None:
    problems = []
    for family in GATE_FAMILIES:
        seen: set[str] = set()
        for index, rule in enumerate(policy.gates.rules(family)):
            rid = rule_id(family, rule)
            if rid in seen:
                message = f"duplicate rule id '{rid}': give each rule of a family its own 'id'"
                problems.append(doc.problem(("gates", family, index), message))
            if rid.startswith(BUILTIN_RULE_PREFIX):
                message = (
                    f"rule id '{rid}' is reserved for the built-in degenerate-decisions rules "
                    "(tune them under settings.degenerate_decisions)"
                )
                problems.append(doc.problem(("gates", family, index, "id"), message))
            seen.add(rid)
    seen = set()
    for index, rule in enumerate(policy.monitoring or []):
        rid = rule_id("monitoring", rule)
        if rid in seen:
            message = f"duplicate rule id '{rid}': give each monitoring rule its own 'id'"
            problems.append(doc.problem(("monitoring", index), message))
        seen.add(rid)
    if problems:
        raise SpecError(problems)


def _merge_rules(base: list[Any], child: list[Any], family: str) -> list[Any]:
    merged = {rule_id(family, r): r for r in base}
    for rule in child:
        merged[rule_id(family, rule)] = rule
    return list(merged.values())


def _merge_model(base: Any, child: Any) -> Any:
    """Fields the child file sets explicitly win; nested models merge recursively."""
    updates = {}
    for name in child.model_fields_set:
        value = getattr(child, name)
        base_value = getattr(base, name)
        if hasattr(value, "model_fields_set") and hasattr(base_value, "model_fields_set"):
            value = _merge_model(base_value, value)
        updates[name] = value
    return base.model_copy(update=updates)


def merge(base: Policy, child: Policy) -> Policy:
    """Apply ``child`` on top of ``base``."""
    gates = Gates(**{f: _merge_rules(base.gates.rules(f), child.gates.rules(f), f) for f in GATE_FAMILIES})
    settings: Settings = _merge_model(base.settings, child.settings)
    # a child policy adds estimator modules to its base's: `extends` never narrows what trains
    modules = [*base.training.estimator_modules]
    modules += [m for m in child.training.estimator_modules if m not in modules]
    types = [*base.training.skops_trusted_types]
    types += [t for t in child.training.skops_trusted_types if t not in types]
    promotion = Promotion(
        order=child.promotion.order or base.promotion.order,
        stages={**base.promotion.stages, **child.promotion.stages},
        notify=child.promotion.notify or base.promotion.notify,  # a child's notify replaces its base's
    )
    return Policy(
        extends=None,
        description=child.description or base.description,
        gates=gates,
        settings=settings,
        training=Training(estimator_modules=modules, skops_trusted_types=types),
        promotion=promotion,
        trust=child.trust if "trust" in child.model_fields_set else base.trust,
        governance=child.governance or base.governance,
        monitoring=_merge_rules(base.monitoring or [], child.monitoring or [], "monitoring")
        if base.monitoring is not None or child.monitoring is not None
        else None,
    )


def load_policy(path: Path, root: Path) -> ResolvedPolicy:
    """Load ``path`` and everything it extends; raise :class:`SpecError` on any problem."""
    chain: list[tuple[Path, Policy]] = []
    current: Path | None = path
    referrer: tuple[Any, tuple[str, ...]] | None = None
    while current is not None:
        _check_inside(current, referrer, root)
        resolved = current.resolve()
        if referrer is not None:
            _check_reference(current, resolved, chain, referrer, root)
        doc = load(current, display_path(current, root))
        policy: Policy = parse(Policy, doc)
        _check_unique_ids(policy, doc)
        chain.append((resolved, policy))
        referrer = (doc, ("extends",))
        current = (current.parent / policy.extends) if policy.extends else None
    effective = chain[-1][1]
    for _, policy in reversed(chain[:-1]):
        effective = merge(effective, policy)
    files = tuple(display_path(p, root) for p, _ in reversed(chain))
    digest = canonical_hash(effective.model_dump(mode="json", by_alias=True))
    return ResolvedPolicy(policy=effective, files=files, sha256=digest)
