"""Automatic differentiation: the tape, backprop, custom gradients, IndexedSlices, diagnostics.

Importing a submodule makes this package the `autodiff` attribute of `flowstone`, where users
expect the public `tf.autodiff` namespace; so public names are served from
`flowstone.api.autodiff` here as well.
"""


def __getattr__(name):
    import flowstone.api.autodiff as public

    try:
        return getattr(public, name)
    except AttributeError:
        raise AttributeError(f"module 'tf.autodiff' has no attribute '{name}'") from None


def __dir__():
    import flowstone.api.autodiff as public

    return dir(public)
