"""The eager core: dtypes, shapes, tensors, errors, context, the op registry and dispatch."""
