"""Module-level `__getattr__` for the generated namespaces: import on first access."""

from __future__ import annotations

import importlib
import sys


def attach(module_name: str, symbols: dict, submodules: dict):
    module = sys.modules[module_name]

    def __getattr__(name):  # noqa: N807
        target = symbols.get(name)
        if target is not None:
            value = getattr(importlib.import_module(target[0]), target[1])
        elif name in submodules:
            value = importlib.import_module(submodules[name])
        else:
            raise AttributeError(f"module '{module_name}' has no attribute '{name}'")
        setattr(module, name, value)
        return value

    def __dir__():  # noqa: N807
        return sorted(set(symbols) | set(submodules))

    return __getattr__, __dir__, sorted(symbols)
