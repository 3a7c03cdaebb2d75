"""Graphs: the IR, tracing (`tf.function`), lowering to jax + XLA, control flow, GraphDef."""
