"""Values and helpers shared by AutoGraph's runtime modules."""

from __future__ import annotations

from flowstone.core.context import ctx
from flowstone.core.tensor import EagerTensor, Tensor

# Generated variables, as TensorFlow's converter names them in its messages.
_DISPLAY = {"ag__retval": "retval_", "ag__do_return": "do_return"}


def display_name(name: str) -> str:
    """The name a message shows for a variable (generated flags read like TF's)."""
    if name in _DISPLAY:
        return _DISPLAY[name]
    if name.startswith("ag__break_"):
        return "break_"
    if name.startswith("ag__continue_"):
        return "continue_"
    return name


class Undefined:
    """The value of a local variable that has not been assigned yet.

    Converted functions bind every local that their generated closures share before the first
    statement; until the user's code assigns it, it holds an `Undefined`, and using it fails as
    reading an unassigned local does in Python.

    >>> from flowstone.graph.autograph.undefined import Undefined
    >>> Undefined("y")
    <undefined y>
    """

    __slots__ = ("name",)

    def __init__(self, name: str = ""):
        self.name = name

    def _fail(self, *args, **kwargs):
        raise UnboundLocalError(
            f"cannot access local variable '{display_name(self.name)}' where it is not associated with a value"
        )

    __getattr__ = __call__ = __bool__ = __iter__ = __len__ = __getitem__ = __setitem__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __matmul__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __pos__ = __abs__ = __index__ = __float__ = __int__ = _fail
    __array__ = _fail

    def __repr__(self):
        return f"<undefined {display_name(self.name)}>" if self.name else "<undefined>"


class UndefinedReturn(Undefined):
    """The return value of a converted function before a `return` statement has run."""

    __slots__ = ()

    def __init__(self):
        super().__init__("ag__retval")


def ld(value):
    """A variable read in converted code: an Undefined one fails as an unassigned local does."""
    if isinstance(value, Undefined):
        value._fail()
    return value


def is_undefined(x) -> bool:
    return isinstance(x, Undefined)


def is_graph_tensor(x) -> bool:
    """A symbolic tensor of the graph being traced (or a variable read inside one)."""
    if isinstance(x, Tensor):
        return not isinstance(x, EagerTensor)
    return ctx.graph is not None and _is_variable(x)


def _is_variable(x) -> bool:
    from flowstone.core.variables import Variable

    return isinstance(x, Variable)


def tf():
    import flowstone

    return flowstone
