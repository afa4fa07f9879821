"""The ``he-learn`` console script.

Subcommands::

    he-learn demo   the original demos' story: the secret-sharing toy, then XOR
                    learned on plaintext, on shares and on ciphertexts
    he-learn bench  the benchmarks (arguments go to he_learn.bench.run)
    he-learn party  one role of a multi-process job (an SMPC party, the dealer)

Errors raised on purpose by he_learn print one line and exit with status 1;
``--debug`` shows the traceback instead. This module is the only place that
configures logging handlers: the library itself only logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from he_learn import __version__
from he_learn.errors import HeLearnError

__all__ = ["main", "build_parser"]

# Exit statuses: 1 for a he_learn error, 2 for usage errors (argparse's own) and a
# missing subcommand implementation, 130 for Ctrl-C (128 + SIGINT, shell convention).
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _int_at_least(minimum: int):
    """An argparse type for integers >= ``minimum``, with a message naming the bound."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="he-learn",
        description="Machine learning on data that stays private: CKKS and SMPC side by side.",
    )
    parser.add_argument("--version", action="version", version=f"he_learn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="the secret-sharing toy, then XOR learned while encrypted",
        description="Reproduce the original demos: additive secret sharing of 2 and 5, then the XOR "
        "reservoir trained by gradient descent on plaintext, on secret shares and on CKKS ciphertexts.",
    )
    demo.add_argument("--backend", choices=("all", "plain", "smpc", "ckks"), default="all",
                      help="which backend(s) train the XOR model (default: all that are available)")
    demo.add_argument("--steps", type=_int_at_least(1), default=250, help="gradient steps (default 250)")
    demo.add_argument("--seed", type=_int_at_least(0), default=0,
                      help="seed of the public reservoir projection and of the toy (default 0)")
    demo.add_argument("--plot", metavar="FILE.png", default=None, help="draw the loss curves to this PNG")
    demo.add_argument("--parties", type=_int_at_least(2), default=None,
                      help="number of parties for the toy and the smpc backend (defaults: 3 and 2)")
    demo.add_argument("--modulus", type=_int_at_least(2), default=None,
                      help="the toy's modulus Q (default 501337, as in the original)")
    demo.add_argument("--log-every", type=_int_at_least(1), default=50,
                      help="print (and reveal) the loss every this many steps (default 50)")
    demo.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    from he_learn.cli.party import add_party_parser

    add_party_parser(commands, _int_at_least)
    commands.add_parser(
        "bench",
        help="run the benchmarks (see `he-learn bench --help`)",
        add_help=False,  # --help belongs to the benchmark runner, which receives every argument
    )
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _run_bench(forwarded: list[str]) -> int:
    try:
        from he_learn.bench.run import main as bench_main
    except ModuleNotFoundError as exc:
        if exc.name in ("he_learn.bench.run", "he_learn.bench"):
            print("he-learn bench: the benchmark runner (he_learn.bench.run) is not part of this build yet",
                  file=sys.stderr)
            return EXIT_USAGE
        raise
    status = bench_main(forwarded)
    return int(status or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``he-learn`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(args_list)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command != "bench" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(args.verbose)
    try:
        if args.command == "bench":
            # Everything after "bench" belongs to the runner, including --help.
            forwarded = args_list[args_list.index("bench") + 1:]
            return _run_bench(forwarded)
        if args.command == "party":
            from he_learn.cli.party import run_party_command

            return run_party_command(args, out=sys.stdout)
        from he_learn.cli.demo import run_demo

        return run_demo(args, out=sys.stdout)
    except HeLearnError as exc:
        if args.debug:
            raise
        print(f"he-learn: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("he-learn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
