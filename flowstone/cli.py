"""The `flowstone` command: `flowstone demo`, and the tools later issues add."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    import flowstone as tf

    print("flowstone", tf.__version__, "- TensorFlow 2's API on XLA")
    print()
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    b = tf.ones([2, 2])
    print("a =", a)
    print("a + b =", a + b)
    print("a @ b =", repr(tf.matmul(a, b)))
    print("reduce_sum(a, axis=0) =", repr(tf.reduce_sum(a, axis=0)))
    print("softmax(a) =", repr(tf.nn.softmax(a)))
    print("a[:, ::-1] =", repr(a[:, ::-1]))
    try:
        tf.constant(1) + tf.constant(1.0)
    except tf.errors.InvalidArgumentError as e:
        print("int32 + float32 ->", type(e).__name__ + ":", e)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="flowstone", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo job").set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
