"""The one export mechanism: every public symbol is named here, once.

`@export("math.sin", "sin")` records that the decorated object is public as
`tf.math.sin` and `tf.sin`; `export_constant` does the same for a module-level
value. `python -m flowstone.api.generate` writes the namespaces under
`flowstone/api/` from this table; a test fails if they drift.
"""

from __future__ import annotations

# Public dotted name -> (defining module, attribute name in that module).
EXPORTS: dict[str, tuple[str, str]] = {}


def export(*names: str):
    """Records `names` as the public names of the decorated object and returns it."""

    def decorate(obj):
        for name in names:
            EXPORTS[name] = (obj.__module__, obj.__name__)
        return obj

    return decorate


def export_constant(module: str, attr: str, *names: str) -> None:
    """Records `names` as public names of the module-level value `module.attr`."""
    for name in names:
        EXPORTS[name] = (module, attr)
