"""Every command that talks to the broker takes the same credential and TLS options (issue 18)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fusion import cliutil, runner
from fusion.cli import BrokerOptionError, broker_address, command_parser, main

BROKER_OPTIONS = ("--broker", "--username", "--password", "--password-file", "--ca-file", "--cert-file", "--key-file")
# Built-in commands with a broker; the other helpers' commands (web, cot, archive...) call the same broker_args.
BROKER_COMMANDS = {"demo": [], "sim": ["scenario.toml"], "alerts": [], "record": ["-o", "x.rec"], "replay": ["x.rec"]}


def options_of(p: argparse.ArgumentParser) -> set[str]:
    return {s for a in p._actions for s in a.option_strings}


def subparser(name: str) -> argparse.ArgumentParser:
    return command_parser(name)


@pytest.mark.parametrize("command", sorted(BROKER_COMMANDS))
def test_every_broker_command_has_the_shared_options(command: str) -> None:
    assert set(BROKER_OPTIONS) <= options_of(subparser(command))


def test_jisf_run_has_the_same_options() -> None:
    assert set(BROKER_OPTIONS) | {"--client-id"} <= options_of(runner.build_parser())


def parse(argv: list[str]) -> argparse.Namespace:
    """``jisf COMMAND ARGS`` parsed by the command's parser, with the environment (fusion.cliutil)."""
    return cliutil.parse(command_parser(argv[0]), argv[1:])


@pytest.mark.parametrize("command", sorted(BROKER_COMMANDS))
def test_password_file_and_client_certificate_reach_the_address(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JISF_PASSWORD", "JISF_PASSWORD_FILE", "JISF_BROKER"):
        monkeypatch.delenv(name, raising=False)
    pw = tmp_path / "pw"
    pw.write_text("s3cret\nignored second line\n")
    args = parse([command, *BROKER_COMMANDS[command], "--broker", "mqtts://broker.example.org", "--username", "analyst",
                  "--password-file", str(pw), "--ca-file", "ca.crt", "--cert-file", "analyst.crt", "--key-file", "analyst.key"])
    addr = broker_address(args)
    assert (addr.host, addr.port, addr.tls, addr.username, addr.password) == ("broker.example.org", 8883, True, "analyst", "s3cret")
    assert (addr.ca_file, addr.cert_file, addr.key_file) == ("ca.crt", "analyst.crt", "analyst.key")


def test_password_and_password_file_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["alerts", "--broker", "mqtt://h", "--username", "u", "--password", "p", "--password-file", "f"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_environment_password_file_and_flag_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    monkeypatch.delenv("JISF_PASSWORD", raising=False)
    monkeypatch.setenv("JISF_PASSWORD_FILE", str(pw))
    base = ["alerts", "--broker", "mqtt://h", "--username", "u"]
    assert broker_address(parse(base)).password == "from-file"
    assert broker_address(parse([*base, "--password", "flag"])).password == "flag"  # a flag wins over the environment
    monkeypatch.setenv("JISF_PASSWORD", "env")
    with pytest.raises(BrokerOptionError, match="password_file"):  # both variables: refused, not guessed
        broker_address(parse(base))


@pytest.mark.parametrize(("content", "reason"), [("", "empty"), ("\nsecond\n", "empty")])
def test_bad_password_file_is_named(tmp_path: Path, content: str, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JISF_PASSWORD", raising=False)
    pw = tmp_path / "pw"
    pw.write_text(content)
    with pytest.raises(BrokerOptionError, match=f"password_file '{pw}'.*{reason}"):
        broker_address(parse(["alerts", "--broker", "mqtt://h", "--username", "u", "--password-file", str(pw)]))
    with pytest.raises(BrokerOptionError, match=r"password_file '/nonexistent/pw': cannot read"):
        broker_address(parse(["alerts", "--broker", "mqtt://h", "--username", "u", "--password-file", "/nonexistent/pw"]))


def test_client_certificate_needs_tls() -> None:
    with pytest.raises(BrokerOptionError, match="mqtts://"):
        broker_address(parse(["alerts", "--broker", "mqtt://h", "--username", "u", "--cert-file", "c.crt", "--key-file", "c.key"]))


def test_command_reports_a_bad_password_file_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--broker", "mqtt://h", "--username", "u", "--password-file", "/nonexistent/pw"]) == 2
    assert "jisf alerts: password_file '/nonexistent/pw': cannot read a password" in capsys.readouterr().err
