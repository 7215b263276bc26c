"""Packages whose public names resolve on first use (PEP 562, with a module subclass), so that
``import dspnewton`` and the CLI's help import neither torch nor numba.

``lazy_package(__name__, {"name": ".submodule", ...})`` makes ``package.name`` import
``.submodule`` on first access and return its attribute ``name``; ``{"name": (".submodule", None)}``
returns the submodule itself.  Where a function has its submodule's name (``optim.newton``,
``objective.preemphasis``, ``model.ballistics``) the function wins, as it did with eager imports:
loading the submodule does not replace the package's attribute with the module.
"""

from __future__ import annotations

import importlib
import sys
import types

__all__ = ["lazy_package"]


def lazy_package(name: str, mapping: dict) -> None:
    """Make the package ``name`` (calling this from its ``__init__``) resolve ``mapping``'s names lazily."""
    table = {k: (v, k) if isinstance(v, str) else v for k, v in mapping.items()}
    shadowed = {k for k, (mod, attr) in table.items() if attr == k and mod.lstrip(".") == k}

    class _LazyPackage(types.ModuleType):
        def __getattr__(self, attr):
            if attr not in table:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            mod, member = table[attr]
            sub = importlib.import_module(mod, name)
            value = sub if member is None else getattr(sub, member)
            types.ModuleType.__setattr__(self, attr, value)
            return value

        def __setattr__(self, attr, value):
            if attr in shadowed and isinstance(value, types.ModuleType):
                return  # the import system binding the submodule: the function of that name stays
            types.ModuleType.__setattr__(self, attr, value)

        def __dir__(self):
            return sorted(set(vars(self)) | set(table))

    module = sys.modules[name]
    module.__class__ = _LazyPackage
    module.__all__ = sorted(set(getattr(module, "__all__", ())) | set(table))
