"""The one command-line layer: every command's parser, its environment, prog names and global options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fusion import cli, cliutil
from fusion.config import FIELDS, env_name
from fusion.runner import config_from_argv

COMMANDS = [*cli.BUILTIN, *cli.DELEGATED]


def _positionals(p: argparse.ArgumentParser) -> list[str]:
    return [str(next(iter(a.choices))) if a.choices else f"POS-{a.dest}" for a in p._actions
            if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


# options whose type is a command's own parsing function: an environment text and its parsed value
CUSTOM_TYPES: dict[str, tuple[str, object]] = {
    "icao": ("4CA2D1", "4ca2d1"),
    "bbox": ("-80,9,-78,11", (-80.0, 9.0, -78.0, 11.0)),
    "since": ("1700000000", 1_700_000_000.0),
    "until": ("2023-11-14T22:13:20Z", 1_700_000_000.0),
}


def _env_text_and_expected(action: argparse.Action) -> tuple[str, object]:
    """A value for the option's environment variable, and what the parsed option must then be."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return "yes", True
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        return "true", action.const
    if isinstance(action, argparse._CountAction):
        return "2", 2
    if action.choices is not None:
        choice = list(action.choices)[-1]
        return str(choice), choice
    if action.type in (int, float):
        return "7", action.type(7)
    if action.type is Path:
        return "/env/path", Path("/env/path")
    if action.dest in CUSTOM_TYPES:
        return CUSTOM_TYPES[action.dest]
    assert action.type is None or action.type is str, f"{action.dest}: add a case for type {action.type}"
    return f"env-{action.dest}", f"env-{action.dest}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_long_option_of_every_command_is_set_by_the_environment(name: str) -> None:
    p = cli.command_parser(name)
    assert p.prog == f"jisf {name}" and p.format_usage().startswith(f"usage: jisf {name} ")
    options = cliutil.env_options(p)
    assert {"verbose", "debug", "progress"} <= {a.dest for a in options}
    required = {cliutil.env_names(p, a)[-1]: _env_text_and_expected(a)[0] for a in options if a.required}
    for action in options:
        for var in cliutil.env_names(p, action):  # JISF_<COMMAND>_<OPTION> and JISF_<OPTION>
            text, expected = _env_text_and_expected(action)
            p = cli.command_parser(name)  # fresh: apply_env changes defaults
            args = cliutil.parse(p, _positionals(p), {**required, var: text})  # required options from the environment too
            assert getattr(args, action.dest) == expected, (name, var)
    # options that fusion.config reads from the environment (jisf run) have the same names
    for action in p._actions:
        if action.dest in p.env_exempt:  # type: ignore[attr-defined]
            assert cliutil.env_names(p, action)[-1] == (env_name(action.dest) if action.dest in FIELDS else "JISF_CONFIG")


def test_run_options_reach_the_configuration_from_the_environment() -> None:
    cfg = config_from_argv([], {"JISF_FUSE_BATCH": "9", "JISF_CLIENT_ID": "env-id"})
    assert (cfg.fuse_batch, cfg.client_id) == (9, "env-id")


def test_flag_wins_and_the_command_variable_wins_over_the_generic_one() -> None:
    p = cli.command_parser("record")
    env = {"JISF_BROKER": "mqtt://env:1", "JISF_CLIENT_ID": "generic", "JISF_RECORD_CLIENT_ID": "recorder-7",
           "JISF_OUTPUT": "env.rec"}
    args = cliutil.parse(p, ["--broker", "mqtt://flag:2"], env)  # --broker and -o are required: the environment gives -o
    assert (args.broker, args.client_id, args.output) == ("mqtt://flag:2", "recorder-7", "env.rec")


@pytest.mark.parametrize(("text", "value"), [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("false", False), ("No", False)])
def test_booleans(text: str, value: bool) -> None:
    args = cliutil.parse(cli.command_parser("alerts"), ["--broker", "mqtt://x:1"], {"JISF_JSON": text})
    assert args.json is value


@pytest.mark.parametrize(("var", "text", "says"), [
    ("JISF_JSON", "maybe", "environment JISF_JSON='maybe': must be one of 1/true/yes/on or 0/false/no/off"),
    ("JISF_SPEED", "fast", "environment JISF_SPEED='fast'"),
    ("JISF_SIM_SPEED", "fast", "environment JISF_SIM_SPEED='fast'"),
])
def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(var: str, text: str, says: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    name = "sim" if "SPEED" in var else "alerts"
    p = cli.command_parser(name)
    with pytest.raises(SystemExit) as exc:
        cliutil.parse(p, [*_positionals(p), "--broker", "mqtt://x:1"], {var: text})
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith(f"jisf {name}: "), err


def test_global_options_before_the_command_go_to_it() -> None:
    assert cliutil.split_globals(["-vv", "--debug", "run", "-v", "--broker", "x"]) == (["-vv", "--debug"], ["run", "-v", "--broker", "x"])
    assert cliutil.split_globals(["sim", "-v"]) == ([], ["sim", "-v"])


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"    {name} " in out for name in COMMANDS), out


def test_an_unknown_command_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["-v", "nonsense"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("jisf: unknown command 'nonsense'") and err.count("\n") == 1, err
