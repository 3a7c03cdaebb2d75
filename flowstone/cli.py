"""The `flowstone` command: `flowstone demo`, and the tools later issues add."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from flowstone import demo

    demo.run()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="flowstone", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo job").set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
