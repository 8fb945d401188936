"""Lazy package surfaces (PEP 562): a package's public names, imported from its private modules on first use.

Each package ``__init__`` lists its surface in ``__all__`` and maps each name to ``"_module:name"``
(or ``"_module"`` for a module used as a namespace); ``lazy_surface`` returns the module-level
``__getattr__`` and ``__dir__`` that resolve them, so importing a package stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from importlib import import_module
from typing import Any


def lazy_surface(
    namespace: MutableMapping[str, Any], table: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package whose ``globals()`` is ``namespace``."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        """Import a public name's private module on first use: the package imports lightly."""
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = table[name].partition(":")
        value = import_module(f"{package}.{module}")
        if attr:
            value = getattr(value, attr)
        namespace[name] = value  # once: the next lookup is a plain global
        return value

    def __dir__() -> list[str]:
        """The module's globals and its public names, imported or not."""
        return sorted({*namespace, *public})

    return __getattr__, __dir__
