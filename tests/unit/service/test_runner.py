"""``jisf run`` option handling: one flag per config option, flags over environment over file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.config import FIELDS, ConfigError
from fusion.runner import build_parser, config_from_argv, main


def test_every_option_is_a_flag() -> None:
    flags = {a.dest for a in build_parser()._actions}
    assert set(FIELDS) <= flags


def test_flags_env_and_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "svc.toml"
    conf.write_text('client_id = "file"\nfuse_batch = 7\nmetrics_port = 9100\n')
    cfg = config_from_argv(["--client-id", "flag", "--status-interval-s", "2.5"],
                           {"JISF_CONFIG": str(conf), "JISF_FUSE_BATCH": "9"})
    assert (cfg.client_id, cfg.fuse_batch, cfg.metrics_port, cfg.status_interval_s) == ("flag", 9, 9100, 2.5)


def test_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"flag --max-inbound: max_inbound = 'many': must be an integer"):
        config_from_argv(["--max-inbound", "many"], {})


def test_main_refuses_a_bad_configuration(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISF_LOG_LEVEL", "loud")
    assert main([]) == 2
    assert "environment JISF_LOG_LEVEL: log_level = 'loud': must be one of" in capsys.readouterr().err
