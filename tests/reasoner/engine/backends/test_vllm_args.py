"""Engine arguments: checked against vLLM's own `AsyncEngineArgs` before any engine starts, merged with
reasoner's engine settings, part of the engine's identity; and the `enforce_eager` default by platform.

Most tests here start no engine (they read vLLM's argument class); the last two use the session engine.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from reasoner.engine.backends.vllm import EngineConfig, VLLMGenerator
from reasoner.engine.backends.vllm_args import REFUSED, check_engine_args, vllm_fields, world_size
from reasoner.engine.hardware import eager_mode
from reasoner.errors import ConfigError


def test_every_refused_key_is_a_real_vllm_field():
    """A refusal of a name vLLM does not have would guard nothing."""
    assert set(REFUSED) <= set(vllm_fields())


@pytest.mark.parametrize(
    ("key", "close"),
    [("tensor_paralel_size", "tensor_parallel_size"), ("max_num_seq", "max_num_seqs"),
     ("kv_cache_dtpye", "kv_cache_dtype"), ("enable_prefix_cache", "enable_prefix_caching")],
)
def test_an_unknown_key_is_named_with_its_closest_fields(key, close):
    with pytest.raises(ConfigError, match=f"'{key}' is not an argument of vLLM's AsyncEngineArgs; did you mean "
                                          f".*{close}") as caught:
        EngineConfig.of("tiny", **{key: 2})
    assert caught.value.field == key


def test_an_unknown_key_with_no_close_field_points_to_the_list():
    with pytest.raises(ConfigError, match="'zzzzqqq' is not an argument .*; see `vllm serve --help`"):
        check_engine_args({"zzzzqqq": 1})


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_keys_the_engine_sets_itself_are_refused_with_the_reason(key):
    with pytest.raises(ConfigError, match=f"engine argument '{key}' is set by reasoner itself: ") as caught:
        EngineConfig.of("tiny", **{key: "x"})
    assert caught.value.field == key


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [("tensor_parallel_size", 1.5, "valid integer"), ("enable_prefix_caching", "sometimes", "valid boolean"),
     ("kv_cache_dtype", "fp7", "input should be 'auto'"), ("max_logprobs", [1], "valid integer"),
     ("quantization", 4, "valid string")],
)
def test_a_plain_value_of_the_wrong_type_is_refused_naming_key_and_value(key, value, words):
    with pytest.raises(ConfigError, match=re.escape(f"engine argument {key}={value!r}: ") + f".*{words}"):
        check_engine_args({key: value})


def test_plain_values_are_converted_and_nested_configs_pass_to_vllm_unchanged():
    speculative = {"method": "ngram", "num_speculative_tokens": 3}
    checked = check_engine_args({"tensor_parallel_size": "2", "enable_prefix_caching": "false",
                                 "quantization": None, "speculative_config": speculative})
    assert checked == {"tensor_parallel_size": 2, "enable_prefix_caching": False, "quantization": None,
                       "speculative_config": speculative}


def test_keys_of_reasoners_own_settings_set_those_fields_whichever_way_they_come():
    direct = EngineConfig.of("tiny", max_model_len=512, gpu_memory_utilization=0.5, tensor_parallel_size=2)
    nested = EngineConfig.of("tiny", engine_args={"max_model_len": 512, "gpu_memory_utilization": 0.5,
                                                  "tensor_parallel_size": 2})
    assert direct == nested
    assert direct.max_model_len == 512 and direct.gpu_memory_utilization == 0.5
    assert direct.engine_args == {"tensor_parallel_size": 2}


def test_a_key_given_both_ways_is_refused():
    with pytest.raises(ConfigError, match="engine setting 'max_model_len' given twice"):
        EngineConfig.of("tiny", max_model_len=512, engine_args={"max_model_len": 256})
    with pytest.raises(ConfigError, match="engine setting 'quantization' given twice"):
        EngineConfig.of("tiny", quantization="awq", engine_args={"quantization": "gptq"})


def test_a_bad_value_of_an_own_setting_names_it():
    with pytest.raises(ConfigError, match="engine setting gpu_memory_utilization=1.5: input should be less than or "
                                          "equal to 1") as caught:
        EngineConfig.of("tiny", gpu_memory_utilization=1.5)
    assert caught.value.field == "gpu_memory_utilization"


def test_different_engine_args_make_different_engines_and_equal_ones_share():
    a = VLLMGenerator.shared("tiny", engine_args={"kv_cache_dtype": "auto"})
    try:
        assert VLLMGenerator.shared("tiny", kv_cache_dtype="auto") is a
        b = VLLMGenerator.shared("tiny", kv_cache_dtype="fp8")
        assert b is not a and b.config != a.config and hash(b.config) != hash(a.config)
    finally:  # neither started an engine; closing takes them out of the shared table
        from reasoner.engine.runtime import run_sync

        for generator in {id(g): g for g in (a, VLLMGenerator.shared("tiny", kv_cache_dtype="fp8"))}.values():
            run_sync(generator.close())


def test_world_size_is_tensor_times_pipeline_parallel():
    assert world_size({}) == 1
    assert world_size({"tensor_parallel_size": 2, "pipeline_parallel_size": 3}) == 6


class FakePlatform:
    """Stands in for `vllm.platforms.current_platform` at `eager_mode`'s boundary: only `is_cpu` is asked."""

    def __init__(self, cpu: bool) -> None:
        self.cpu = cpu

    def is_cpu(self) -> bool:
        return self.cpu


@pytest.mark.parametrize(("cpu", "requested", "eager"),
                         [(True, None, True), (False, None, None), (False, True, True), (True, False, False),
                          (False, False, False)])
def test_eager_by_default_on_cpu_only_and_as_asked_otherwise(cpu, requested, eager):
    assert eager_mode(requested, FakePlatform(cpu)) is eager


def test_on_a_gpu_platform_vllm_keeps_its_own_eager_default(tiny_checkpoint, monkeypatch):
    """No `enforce_eager` key at all, so vLLM's own default (CUDA graphs) applies; asked for, it is passed."""
    from reasoner.engine import hardware

    monkeypatch.setattr(hardware, "vllm_platform", lambda: FakePlatform(cpu=False))
    hardware.on_cpu.cache_clear()  # on_cpu is cached per process: neither read the real platform's answer
    try:
        assert "enforce_eager" not in VLLMGenerator(str(tiny_checkpoint)).engine_args()
        assert VLLMGenerator(str(tiny_checkpoint), enforce_eager=True).engine_args()["enforce_eager"] is True
    finally:
        hardware.on_cpu.cache_clear()  # nor leave the fake's answer to later tests


def test_user_engine_args_are_applied_last_over_reasoners_defaults(tiny_checkpoint):
    args = VLLMGenerator(str(tiny_checkpoint), enable_prefix_caching=False, block_size=64,
                         max_num_seqs=8).engine_args()
    assert args["enable_prefix_caching"] is False and args["block_size"] == 64 and args["max_num_seqs"] == 8
    assert args["enforce_eager"] is True  # on this CPU machine


def test_tensor_parallel_on_cpu_is_refused_before_the_engine_starts(tiny_checkpoint):
    generator = VLLMGenerator(str(tiny_checkpoint), tensor_parallel_size=2)
    with pytest.raises(ConfigError, match="tensor and pipeline parallel sizes above 1 need GPUs"):
        generator.engine()
    assert generator._engine is None


def test_the_running_cpu_engine_is_eager(engine):
    """The session's engine, started with the defaults, as vLLM configured it."""
    assert engine.config.enforce_eager is None
    assert engine.engine().vllm_config.model_config.enforce_eager is True


def test_passed_through_engine_args_reach_vllms_own_config(tiny_checkpoint):
    """vLLM's resolved configuration holds the arguments (checked on vLLM's config, not on ours)."""
    from vllm import AsyncEngineArgs

    args = VLLMGenerator(str(tiny_checkpoint), max_logprobs=7, enable_prefix_caching=False).engine_args()
    config = AsyncEngineArgs(**args).create_engine_config()
    assert config.model_config.max_logprobs == 7 and config.cache_config.enable_prefix_caching is False
