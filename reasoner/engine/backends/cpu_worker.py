"""vLLM's CPU worker, run inside the engine-core process, with a chosen OpenMP thread count.

On CPU, `VLLMGenerator` runs the model in the engine-core process (vLLM's
single-process executor) instead of in a third process. vLLM sets OpenMP
threads and binding only for its multiprocess executor, so without this
worker the model would use one thread per core and its OpenMP threads would
spin against the process that feeds them (measured 8x slower on 2 cores, see
benchmarks/results/engine_tuning_tiny_run1.json). This worker sets the thread
count from the engine's `additional_config` before vLLM's worker starts
(after which vLLM forbids changing it).

Not here: core binding (left to the OS) or anything the GPU path uses.
This module imports vLLM's worker, so only the engine-core process imports it.
"""

from __future__ import annotations

import os

import torch
from vllm.v1.worker.cpu_worker import CPUWorker

from reasoner.engine.backends.vllm import CPU_THREADS_KEY


class ThreadedCPUWorker(CPUWorker):
    """`CPUWorker` that first sets torch's intra-op threads to `additional_config[CPU_THREADS_KEY]`."""

    def init_device(self) -> None:
        threads = (self.vllm_config.additional_config or {}).get(CPU_THREADS_KEY)
        if threads:
            torch.set_num_threads(int(threads))
        super().init_device()

    def reasoner_threads(self) -> dict[str, int]:
        """The process this worker runs in and its torch intra-op threads (for checks)."""
        return {"pid": os.getpid(), "threads": torch.get_num_threads()}


    def reasoner_running_requests(self) -> int:
        """Requests in the model's running batch now (an aborted one leaves it at the next step)."""
        return int(self.model_runner.input_batch.num_reqs)
