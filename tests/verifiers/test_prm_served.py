"""The vLLM-served PRM: prefix caching along a search's steps, the memo, batching, the ledger, and where it runs
(in process, in a Ray actor, at a `vllm serve` pooling server), all on the bundled `tiny-prm`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import pytest

from reasoner.budget import Meter
from reasoner.engine.models import BUNDLED_DIR
from reasoner.engine.runtime import run_sync
from reasoner.errors import ConfigError, PRMServerError
from reasoner.verifiers.prm import PRMSettings, open_prm
from tests.scripted import ScriptedGenerator

PROMPT = "Ann has 47 pens. Ann buys 4 times as many more. Then Ann gives away 15. How many pens does Ann have now?"
STEPS = ["4 * 47 = 188", "47 + 188 = 235", "235 - 15 = 220", "The answer is \\boxed{220}."]
TINY_PRM = str(BUNDLED_DIR / "tiny-prm")


def prefix(count: int) -> str:
    """The solution through step `count`, as a search hands it to the PRM (each step ends at its delimiter)."""
    return "".join(step + "\n" for step in STEPS[:count])


@pytest.fixture(scope="module")
def served():
    prm = open_prm(TINY_PRM).start()
    yield prm
    run_sync(prm.pooler.close())


@pytest.fixture(scope="module")
def reference():
    """The torch runner: every token computed, no cache."""
    return open_prm(TINY_PRM, PRMSettings(runner="torch"))


def test_a_search_step_computes_only_its_new_tokens(served, reference):
    """Scoring one prefix after another, as a search goes down a path: from the second step on, the engine serves
    the cached blocks of the parent's prefix, and the scores equal those computed from scratch."""
    rows = [run_sync(served.ascore([(PROMPT, prefix(k))])) for k in range(1, len(STEPS) + 1)]
    fresh = reference.score([(PROMPT, prefix(k)) for k in range(1, len(STEPS) + 1)])
    for k, scored in enumerate(rows):
        # 1e-3, the tolerance for vLLM against a reference: keys and values served from the cache were
        # computed in another batch shape, which moves a probability by up to about 2e-4 on CPU
        assert scored.steps[0] == pytest.approx(fresh.steps[k], abs=1e-3)
        assert scored.tokens == fresh.item_tokens[k]
    assert rows[0].cached_tokens == 0
    assert all(later.cached_tokens >= 32 for later in rows[1:])  # whole 32-token blocks of the parent
    assert all(s.flops == pytest.approx(2 * served.parameters * (s.tokens - s.cached_tokens)) for s in rows)


def test_a_prefix_read_before_is_not_sent_again(served):
    text = "7 + 8 = 15\nThe answer is \\boxed{15}.\n"
    first = run_sync(served.ascore([(PROMPT, text)]))
    sent = served.requests
    again = run_sync(served.ascore([(PROMPT, text), (PROMPT, text)]))
    assert served.requests == sent  # both from the memo
    assert again.steps == [first.steps[0], first.steps[0]]
    assert again.cached_tokens == again.tokens == 2 * first.tokens


def test_copies_in_one_call_are_computed_once(served):
    text = "9 * 9 = 81\n"
    sent = served.requests
    scored = run_sync(served.ascore([(PROMPT, text)] * 4))
    assert served.requests - sent == 1
    assert scored.steps == [scored.steps[0]] * 4
    assert scored.cached_tokens == 3 * scored.item_tokens[0] + scored.item_cached[0]  # + the prompt's cached blocks


def test_many_problems_batch_in_the_engine(served, reference):
    items = [(f"Tom has {i} cards and buys {i + 3} more. How many cards does Tom have now?",
              f"{i} + {i + 3} = {2 * i + 3}\nThe answer is \\boxed{{{2 * i + 3}}}.") for i in range(24)]

    async def together():
        return await asyncio.gather(*(served.ascore([item]) for item in items))

    results = run_sync(together())
    expected = reference.score(items).steps
    assert [r.steps[0] for r in results] == [pytest.approx(row, abs=1e-4) for row in expected]


def test_the_ledger_books_cached_prm_tokens_apart_and_charges_only_this_problems_own_reuse(served):
    """A cache hit on tokens this problem read before is free of FLOPs; the same hit, when another problem
    read them, is charged, so a problem's cost does not depend on what ran beside it."""
    meter, stranger = Meter(ScriptedGenerator([])), Meter(ScriptedGenerator([]))
    first = run_sync(served.ascore([(PROMPT, prefix(1) + "x\n")]))
    meter.book_prm(first, served.parameters)
    second = run_sync(served.ascore([(PROMPT, prefix(2) + "y\n")]))
    stranger.book_prm(second, served.parameters)
    meter.book_prm(second, served.parameters)
    assert second.cached_tokens > 0
    assert meter.cost.cached_prm_tokens == first.cached_tokens + second.cached_tokens
    own = meter.cost.prm_flops - 2 * served.parameters * first.tokens
    assert own == pytest.approx(2 * served.parameters * (second.tokens - second.cached_tokens))
    assert stranger.cost.prm_flops == pytest.approx(2 * served.parameters * second.tokens)
    assert stranger.cost.prm_cache_hit_rate == pytest.approx(second.cached_tokens / second.tokens)


def test_a_policy_whose_tokenizer_differs_is_refused(served, tiny_checkpoint):
    served.check_policy("tiny")  # tiny-prm was trained on tiny's samples: same tokenizer
    with pytest.raises(ConfigError, match="different tokenizer from the policy"):
        served.check_policy(str(tiny_checkpoint))


def test_scores_agree_in_process_in_a_ray_actor_and_at_a_vllm_server(served, ray_runtime, vllm_server):
    from reasoner.verifiers.prm.actor import RemotePRM, start_prm_actor

    items = [(PROMPT, prefix(4)), (PROMPT, "4 * 47 = 178\n47 + 178 = 225\n")]
    in_process = run_sync(served.ascore(items))

    async def in_actor():
        handle, shared = await start_prm_actor(TINY_PRM)
        try:
            return await RemotePRM(shared).ascore(items)
        finally:
            ray_runtime.kill(handle)

    actor = run_sync(in_actor())
    server = run_sync(open_prm(TINY_PRM, PRMSettings(url=vllm_server)).ascore(items))
    for other in (actor, server):
        assert [row for row in other.steps] == [pytest.approx(row, abs=1e-4) for row in in_process.steps]
        assert other.tokens == in_process.tokens


def test_a_prm_server_that_is_down_is_a_named_error():
    closed = f"http://127.0.0.1:{free_port()}"
    prm = open_prm(TINY_PRM, PRMSettings(url=closed))
    with pytest.raises(PRMServerError, match=f"the PRM server at {closed} cannot be reached"):
        run_sync(prm.ascore([(PROMPT, prefix(1))]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    """`vllm serve tiny-prm --runner pooling` on 127.0.0.1, as an operator would start it for `--prm-url`."""
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    # The API server's own entry point: the `vllm serve` script asks for the `vllm` package's version, and
    # vllm-cpu installs under another distribution name, so that script fails before it starts.
    command = [sys.executable, "-m", "vllm.entrypoints.launchers.api_server.entry", "--model", TINY_PRM,
               "--runner", "pooling",
               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--block-size", "32",
               "--max-num-batched-tokens", "4096", "--no-enable-chunked-prefill"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            process.wait(timeout=60)


def wait_until_up(url: str, process, log, timeout: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vllm serve exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"vllm serve did not come up in {timeout:.0f} s: {log.read_text()[-3000:]}")
