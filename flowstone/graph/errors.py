"""Errors raised while tracing: using a symbolic tensor where Python needs a value."""

from __future__ import annotations

from flowstone._export import export


@export("errors.OperatorNotAllowedInGraphError")
class OperatorNotAllowedInGraphError(TypeError):
    """A symbolic tensor was used as a Python bool (or iterated) while a function was traced.

    >>> import flowstone as tf
    >>> issubclass(tf.errors.OperatorNotAllowedInGraphError, TypeError)
    True
    """
