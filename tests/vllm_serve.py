"""Options for a `vllm serve` process a test starts (tests/reasoner/engine/backends/test_openai.py).

On CPU, vLLM's own default runs the model in a third process (its multiprocess executor), which costs a process
spawn (a torch and vLLM import) at every server start. These options run it the way reasoner's own engines do,
inside the engine-core process on reasoner's threaded CPU worker (see `reasoner.engine.backends.cpu_worker`);
what the server answers over HTTP is the same. Measured on test_openai's server: start-up 51.2 s to 37.7 s.
(A PRM server on the pooling runner measured no faster this way, so tests/verifiers/test_prm_served.py
starts vLLM's default.)
"""

from __future__ import annotations

import json

from reasoner.engine.backends.vllm import CPU_THREADS_KEY, CPU_WORKER, SINGLE_PROCESS_EXECUTOR
from reasoner.engine.hardware import engine_threads


def single_process_args() -> list[str]:
    """`vllm serve` flags: the model in the engine-core process, with the OpenMP threads reasoner would use."""
    return ["--distributed-executor-backend", SINGLE_PROCESS_EXECUTOR, "--worker-cls", CPU_WORKER,
            "--additional-config", json.dumps({CPU_THREADS_KEY: engine_threads()})]
