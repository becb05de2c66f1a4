"""`reasoner serve`'s flags: limits from a file and flags, plug-ins, router files, hosts and origins."""

from __future__ import annotations

import pytest

from reasoner.cli import build_parser
from reasoner.cli_serve import serve_config
from reasoner.errors import ConfigError


def config(*argv: str):
    return serve_config(build_parser().parse_args(["serve", *argv]))


def test_limits_come_from_a_toml_file_with_flags_on_top(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text("[limits]\nrequests_per_minute = 30\nmax_tokens = 512\n")
    limits = config("--limits", str(path), "--limit", "max_tokens=256").limits
    assert (limits.requests_per_minute, limits.max_tokens, limits.max_n) == (30, 256, 16)


def test_limits_come_from_a_json_file(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text('{"tokens_per_minute": 5000}')
    assert config("--limits", str(path)).limits.tokens_per_minute == 5000


@pytest.mark.parametrize("argv,message", [
    (("--limit", "max_tokenz=5"), "max_tokenz: not a limit"),
    (("--limit", "max_tokens=0"), "max_tokens"),
    (("--limit", "request_timeout_s=-1"), "request_timeout_s"),
])
def test_a_bad_limit_is_named(argv, message):
    with pytest.raises(ConfigError, match=message):
        config(*argv)


def test_a_bad_limits_file_names_the_file(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text("max_tokens = [")
    with pytest.raises(ConfigError, match=str(path)):
        config("--limits", str(path))


def test_security_flags_reach_the_config(tmp_path):
    router = tmp_path / "router.json"
    router.write_text("{}")
    made = config("--plugin", "tests.slow_strategy:Slow", "--router", f"main={router}", "--prm", "my-prm",
                  "--allowed-host", "box.lan", "--cors-origin", "https://app.example", "--allow-unsandboxed-code")
    assert made.plugins == ("tests.slow_strategy:Slow",) and made.routers == {"main": router}
    assert made.prms == ("my-prm",) and made.allowed_hosts == ("box.lan",)
    assert made.cors_origins == ("https://app.example",) and made.allow_unsandboxed_code


def test_a_missing_router_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        config("--router", f"main={tmp_path / 'nope.json'}")


def test_a_plugin_must_be_a_named_strategy_or_scorer(tmp_path):
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import register_names

    with pytest.raises(ConfigError, match="--plugin json:loads"):
        register_names(ServiceConfig(plugins=("json:loads",), db=tmp_path / "x.db"))
    register_names(ServiceConfig(plugins=("tests.slow_strategy:Slow",), db=tmp_path / "x.db"))
    from reasoner.strategies import STRATEGIES

    assert "slow" in STRATEGIES
