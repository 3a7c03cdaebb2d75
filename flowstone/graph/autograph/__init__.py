"""AutoGraph: Python control flow that depends on tensors becomes `tf.cond` / `tf.while_loop`."""

from flowstone.graph.autograph.api import convert, do_not_convert, to_code, to_graph

__all__ = ["convert", "do_not_convert", "to_code", "to_graph"]
