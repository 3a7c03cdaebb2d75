"""What converted code calls (`ag__.*`): each construct decides when it runs.

A condition or iterable that is a graph tensor builds an If / While node; anything else runs
as plain Python, so Python conditions stay Python (as in TensorFlow) and converted code called
eagerly gives the same results as the original.
"""

from __future__ import annotations

from flowstone.graph.autograph.conditionals import and_, assert_stmt, if_exp, if_stmt, not_, or_
from flowstone.graph.autograph.loops import for_stmt, loop_options, while_stmt
from flowstone.graph.autograph.py_builtins import converted
from flowstone.graph.autograph.undefined import Undefined, UndefinedReturn, ld

__all__ = ["Undefined", "UndefinedReturn", "and_", "assert_stmt", "converted", "for_stmt", "if_exp", "if_stmt",
           "ld", "loop_options", "not_", "or_", "while_stmt"]
