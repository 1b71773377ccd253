"""fusion.config: precedence flag > environment > file > default, typed parsing, errors naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.config import FIELDS, ConfigError, ServiceConfig, env_name, load_config, reference
from fusion.pipeline import FusionConfig


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "jisf.toml"
    p.write_text(text)
    return p


def test_defaults_are_valid_and_documented() -> None:
    cfg = load_config(env={})
    assert cfg == ServiceConfig()
    assert all(f.metadata["doc"] for f in FIELDS.values())


def test_flag_beats_env_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'output_interval_s = 1\nmax_inbound = 10\nclient_id = "from-file"\nlog_format = "json"\n')
    env = {"JISF_MAX_INBOUND": " 20 ", "JISF_CLIENT_ID": "from-env", "JISF_UNRELATED": "x"}
    cfg = load_config(path, env, {"client_id": "from-flag", "metrics_port": None})
    assert (cfg.output_interval_s, cfg.max_inbound, cfg.client_id, cfg.log_format, cfg.metrics_port) == (1.0, 20, "from-flag", "json", 0)
    assert isinstance(cfg.output_interval_s, float)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("max_inbound = 1.5\n", {}, r"jisf.toml: max_inbound = 1.5: must be an integer"),
        ("max_inbound = true\n", {}, r"max_inbound = True: must be an integer"),
        ("colour = 3\n", {}, r"jisf.toml: colour = 3: unknown option"),
        ("broker = [1]\n", {}, r"broker = \[1\]: must be a string"),
        ("max_inbound = \n", {}, r"not valid TOML"),
        ("", {"JISF_OUTPUT_INTERVAL_S": "fast"}, r"environment JISF_OUTPUT_INTERVAL_S: output_interval_s = 'fast': must be a number"),
        ("", {"JISF_OUTPUT_INTERVAL_S": "nan"}, r"environment JISF_OUTPUT_INTERVAL_S: output_interval_s = nan: must be a finite number > 0"),
        ("output_interval_s = -1\n", {}, r"jisf.toml: output_interval_s = -1.0: must be a finite number > 0"),
        ("track_interval_s = 0\n", {}, r"jisf.toml: track_interval_s = 0.0: must be a finite number > 0"),
        ("", {"JISF_FUSE_BYTES": "0"}, r"environment JISF_FUSE_BYTES: fuse_bytes = 0: must be >= 1"),
        ("reorder_window_s = 60\n", {}, r"reorder_window_s = 60.0: must not exceed the tracker's out-of-sequence lag of 30 s"),
        ('log_format = "xml"\n', {}, r"log_format = 'xml': must be one of text, json"),
        ("metrics_port = 70000\n", {}, r"metrics_port = 70000: must be 0 \(off\) or a TCP port"),
        ('broker = "http://x"\n', {}, r"broker = 'http://x': broker URL scheme must be mqtt:// or mqtts://"),
        ('ca_file = "/ca.crt"\n', {}, r"broker = 'mqtt://127.0.0.1:1883': ca_file/cert_file/key_file need a TLS broker URL"),
        ('password = "a"\npassword_file = "/p"\n', {"JISF_USERNAME": "u"}, r"password_file = '/p': give password or password_file, not both"),
    ],
)
def test_bad_values_name_the_option_source_and_value(tmp_path: Path, text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), env)


def test_output_pacing_reaches_the_live_loop(tmp_path: Path) -> None:
    from fusion.service import ServiceOptions

    cfg = load_config(write(tmp_path, "track_interval_s = 2\npicture_interval_s = 10\n"), {"JISF_FUSE_BYTES": "500000"})
    opts = ServiceOptions.from_config(cfg)
    assert (opts.track_interval_s, opts.picture_interval_s, opts.fuse_bytes) == (2.0, 10.0, 500_000)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml.*cannot read"):
        load_config(tmp_path / "nope.toml", {})


def test_password_file_and_tls_reach_the_broker_address(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    cfg = load_config(None, {"JISF_BROKER": "mqtts://broker.example", "JISF_USERNAME": "jisf-fusion",
                             "JISF_PASSWORD_FILE": str(tmp_path / "pw"), "JISF_CA_FILE": "/etc/ca.crt"})
    addr = cfg.broker_address()
    assert (addr.host, addr.port, addr.tls, addr.username, addr.password, addr.ca_file) == (
        "broker.example", 8883, True, "jisf-fusion", "s3cret", "/etc/ca.crt")


def test_unreadable_password_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"password_file = .*missing.*cannot read a password"):
        load_config(None, {"JISF_USERNAME": "u", "JISF_PASSWORD_FILE": str(tmp_path / "missing")})


def test_reference_lists_every_option_with_its_variable() -> None:
    table = reference()
    for name in FIELDS:
        assert f"| `{name}` | `{env_name(name)}` |" in table


def test_operations_doc_carries_the_reference() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "OPERATIONS.md"
    assert reference() in doc.read_text(), "docs/OPERATIONS.md: paste fusion.config.reference() into the configuration section"


def test_fusion_config_refuses_a_window_longer_than_the_tracker_lag() -> None:
    """With such a window every batch would be released after the tracker's lag and dropped."""
    assert FusionConfig(reorder_window_s=30.0).reorder_window_s == 30.0
    with pytest.raises(ValueError, match=r"reorder_window_s must be between 0 and tracker.oosm_lag_s \(30 s\), got 30.5"):
        FusionConfig(reorder_window_s=30.5)
