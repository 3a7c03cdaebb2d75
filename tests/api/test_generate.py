"""The generated namespaces under flowstone/api/ match the export table."""

import subprocess
import sys

import flowstone as tf
from flowstone.api import generate


def test_namespaces_are_up_to_date():
    stale = [str(p) for p, text in generate.render().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `python -m flowstone.api.generate`; stale: {stale}"


def test_names_resolve_to_their_objects():
    from flowstone._export import EXPORTS

    for public, (module, attr) in sorted(EXPORTS.items()):
        obj = tf
        for part in public.split("."):
            obj = getattr(obj, part)
        assert obj is getattr(sys.modules[module], attr), public


def test_import_prints_nothing_and_is_lazy():
    code = "import sys, flowstone as tf; print(sorted(m for m in sys.modules if m.startswith('flowstone.ops')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == ""
    assert proc.stdout.strip() == "[]"


def test_first_op_prints_nothing():
    code = "import flowstone as tf; x = tf.constant([1.0]); (x + x).numpy(); tf.matmul(tf.ones([2, 2]), tf.ones([2, 2]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "" and proc.stderr == ""


def test_unknown_attribute_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        tf.no_such_symbol  # noqa: B018
