"""The `langadapt` command: one subcommand group per stage. Parsing and printing only."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from langadapt import __version__
from langadapt.errors import LangadaptError, printable

# Each module registers one group with `register(subparsers)`.
GROUPS = ("data", "tokenizer", "model", "train", "eval", "translate", "report", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langadapt",
        description="Adapt pretrained language models to a new language; report what helped.")
    parser.add_argument("--version", action="version", version=f"langadapt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="group", metavar="GROUP")
    for name in GROUPS:
        importlib.import_module(f"langadapt.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LangadaptError as e:
        if args.debug:
            raise
        # Messages quote untrusted strings (file contents, metadata, server replies).
        print(f"langadapt: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("langadapt: interrupted; finished work is kept and a re-run resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
