"""The ``hma-mascon`` command line.

Each subcommand lives with the module that owns it: a module listed in ``_SUBCOMMAND_MODULES``
defines ``register_cli(subparsers)``, which adds its sub-parser and sets ``func`` on it.
``func(args)`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

#: Modules that contribute subcommands, in the order they appear in ``--help``.
_SUBCOMMAND_MODULES = ("datadir", "synthetic", "pipeline", "ensemble", "scoring", "book")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hma-mascon",
        description="Point-mass mascon inversion of GRACE/GRACE-FO over High Mountain Asia.",
    )
    parser.add_argument("--version", action="version", version=f"hma-mascon {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"hma_mascon.{name}")
        except ModuleNotFoundError as exc:  # module not written yet
            if exc.name != f"hma_mascon.{name}":
                raise
            continue
        register = getattr(module, "register_cli", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except Exception as exc:  # noqa: BLE001 - a command line shows the message, not a traceback
        if getattr(args, "debug", False):
            raise
        print(f"hma-mascon: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
