"""The one command-line layer of every ``jisf`` command (built-in or in its own module).

A command builds its parser with ``parser("NAME", description)`` and runs its body with
``run(parser, body, argv)``; that gives every command the same behaviour:

- ``prog`` is ``jisf NAME`` (usage lines, errors);
- global options ``-v/--verbose`` (info, ``-vv`` debug logging), ``--debug`` (tracebacks)
  and ``--progress/--no-progress`` (progress bars on stderr; default: only on a terminal),
  accepted after the command and, through ``fusion.cli.main``, before it;
- the environment: every long option ``--foo-bar`` can be set as ``JISF_NAME_FOO_BAR``
  (this command only) or ``JISF_FOO_BAR`` (any command having the option); a flag wins;
  booleans take 1/true/yes/on or 0/false/no/off; a bad value is a usage error naming the variable;
- errors as one line on stderr, no traceback unless ``--debug``: usage and configuration
  errors exit 2 (``UsageError``, argparse errors), runtime errors exit 1 (broker down,
  missing file, bad file content...), an interrupt 130.

Built on argparse (the standard library already parses every command): the layer is a
parser subclass with one-line errors plus a walk over each parser's actions that turns
environment variables into defaults, which no argparse extension on the registry does
with argparse's own types and choices.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

ENV_PREFIX = "JISF_"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
GLOBAL_FLAGS = ("-v", "--verbose", "--debug", "--progress", "--no-progress")

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A bad option, combination of options or configuration: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit 2).

    ``command`` names the command for its environment variables (``JISF_{COMMAND}_...``);
    options in ``env_exempt`` (dests) are read from the environment by the command itself
    under the same names (``jisf run``: ``fusion.config``).
    """

    def __init__(self, *args: Any, command: str = "", env_exempt: Iterable[str] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.command = command
        self.env_exempt = set(env_exempt)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: message (prog --help)`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def parser(command: str, description: str, *, env_exempt: Iterable[str] = (), **kw: Any) -> Parser:
    """The parser of ``jisf COMMAND`` with the global options; add the command's own options to it."""
    p = Parser(prog=f"jisf {command}", description=description, command=command, env_exempt=env_exempt, **kw)
    add_global_options(p)
    return p


def add_global_options(p: argparse.ArgumentParser) -> None:
    """``-v/--verbose``, ``--debug`` and ``--progress/--no-progress``."""
    g = p.add_argument_group("global options (also before the command: jisf -v COMMAND ...)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    g.add_argument("--debug", action="store_true", help="show the traceback of an error")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")


def one_line(message: object) -> str:
    """A message on one line: its lines joined by '; '."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


def env_names(p: argparse.ArgumentParser, action: argparse.Action) -> tuple[str, ...]:
    """The environment variables of an option, most specific first: JISF_{COMMAND}_{OPTION}, JISF_{OPTION}."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    if not longs:
        return ()
    option = longs[0][2:].upper().replace("-", "_")
    command = getattr(p, "command", "").upper().replace("-", "_")
    return (f"{ENV_PREFIX}{command}_{option}", f"{ENV_PREFIX}{option}") if command else (f"{ENV_PREFIX}{option}",)


def env_options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of ``p`` that the environment can set (every long option but --help and exempt ones)."""
    exempt: set[str] = getattr(p, "env_exempt", set())
    return [a for a in p._actions
            if env_names(p, a) and not isinstance(a, argparse._HelpAction | argparse._VersionAction) and a.dest not in exempt]


def _boolean(p: argparse.ArgumentParser, var: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE | FALSE:
        return word in TRUE
    p.error(f"environment {var}={raw!r}: must be one of 1/true/yes/on or 0/false/no/off")


def _env_value(p: argparse.ArgumentParser, action: argparse.Action, var: str, raw: str) -> object:
    """``raw`` as the value the option would get on the command line; a usage error naming ``var`` otherwise."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return _boolean(p, var, raw)
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction | argparse._StoreConstAction):
        return action.const if _boolean(p, var, raw) else action.default
    if isinstance(action, argparse._CountAction):
        if raw.strip().isdigit():
            return int(raw)
        return 1 if _boolean(p, var, raw) else 0
    words = raw.split() if action.nargs not in (None, "?") else [raw]
    values = []
    for word in words:
        try:
            value = action.type(word) if callable(action.type) else word
        except (TypeError, ValueError, argparse.ArgumentTypeError) as err:
            p.error(f"environment {var}={raw!r}: {one_line(err) or 'bad value'}")
        if action.choices is not None and value not in action.choices:
            p.error(f"environment {var}={raw!r}: must be one of {', '.join(map(str, action.choices))}")
        values.append(value)
    if isinstance(action, argparse._AppendAction):
        return values
    return values if action.nargs not in (None, "?") else values[0]


def apply_env(p: argparse.ArgumentParser, env: Mapping[str, str] | None = None) -> None:
    """Set the defaults of ``p``'s options from the environment (a flag given later still wins).

    An option set this way is no longer required on the command line.
    """
    env = os.environ if env is None else env
    for action in env_options(p):
        for var in env_names(p, action):
            if var in env:
                action.default = _env_value(p, action, var, env[var])
                action.required = False
                break


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Environment applied, then ``argv`` parsed (exit 2 with one line on a usage error)."""
    apply_env(p, env)
    return p.parse_args(list(sys.argv[1:] if argv is None else argv))


def setup_logging(verbose: int) -> None:
    """Logging to stderr: warnings, ``-v`` info, ``-vv`` debug."""
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run(p: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int | None], argv: Sequence[str] | None,
        env: Mapping[str, str] | None = None, *, logs: bool = True) -> int:
    """Parse ``argv`` and run ``body(args)``; its errors become one stderr line and an exit status.

    ``logs=False`` leaves logging to the body (a command with its own log options).
    """
    args = parse(p, argv, env)
    if logs:
        setup_logging(args.verbose)
    try:
        return int(body(args) or 0)
    except UsageError as err:
        if args.debug:
            raise
        print(f"{p.prog}: {one_line(err)}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{p.prog}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as err:  # every runtime error becomes one line and exit 1
        if args.debug:
            raise
        known = isinstance(err, OSError | ValueError | LookupError)  # missing file, broker down, bad content
        text = one_line(err) if known and str(err) else f"{type(err).__name__}: {one_line(err)} (--debug shows the traceback)"
        print(f"{p.prog}: {text}", file=sys.stderr, flush=True)
        return EXIT_RUNTIME


def progress(args: argparse.Namespace, *, total: float | None = None, unit: str = "msg", desc: str | None = None) -> Any:
    """A tqdm bar on stderr: shown with --progress, hidden with --no-progress, else only on a terminal."""
    from tqdm import tqdm

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, disable=not show, dynamic_ncols=True)


@contextlib.contextmanager
def time_progress(args: argparse.Namespace, t0: float | None = None, t1: float | None = None,
                  desc: str | None = None) -> Iterator[Callable[[float], None]]:
    """Yields ``advance(t)`` for each message at time ``t`` (s): a bar over [t0, t1] in seconds, else a message count."""
    with progress(args, total=None if t0 is None or t1 is None else round(t1 - t0),
                  unit="msg" if t0 is None else "s", desc=desc) as bar:

        def advance(t: float) -> None:
            step = 1 if t0 is None else int(t - t0) - bar.n
            if step > 0:
                bar.update(step)

        yield advance
        if bar.total is not None and bar.n < bar.total:  # the last message comes a little before the end
            bar.update(bar.total - bar.n)


def state_printer(prog: str) -> Callable[[str], None]:
    """``line -> None`` that prints a connection state change as ``prog: line`` on stderr."""

    def say(line: str) -> None:
        print(f"{prog}: {line}", file=sys.stderr, flush=True)

    return say


def split_globals(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Global options that come before the command, and the rest (``-vv`` counts as a global option)."""
    argv = list(argv)
    i = 0
    while i < len(argv) and (argv[i] in GLOBAL_FLAGS or (argv[i].startswith("-v") and set(argv[i][1:]) == {"v"})):
        i += 1
    return argv[:i], argv[i:]
