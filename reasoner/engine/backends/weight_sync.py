"""Pushing a trainer's weights into a running vLLM engine, without a restart or a disk round-trip.

The trainer packs its parameters as raw bytes (`pack_weights`): plain
(name, dtype, shape, bytes) tuples cross vLLM's msgpack RPC without pickle.
In the engine-core process, `WeightSyncWorker` is mixed into vLLM's worker
through `worker_extension_cls`; its `reasoner_load_weights` rebuilds the
tensors, hands them to the model's own `load_weights` (which knows the fused
qkv and gate/up layouts), records the weight version, and returns checksums
of the tensors as received, of the same tensors cast to the engine's dtype,
and of the model's parameters after loading. `check_load` refuses a load
unless what arrived is what the trainer sent and what the model holds is
what arrived. vLLM's CPU kernels repack linear weights and leave empty
parameters behind, so there the last check is skipped and the per-step
log-prob comparison in training is the check of what the engine computes.

Checksums are sums and sums of squares, which survive vLLM's re-layout of
the weights. They catch truncated or garbled transfers and partial loads; a
permutation would pass them, which is why training also compares log-probs
every step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from reasoner.errors import EngineError

PackedTensor = tuple[str, str, list[int], bytes]
"""(parameter name, torch dtype name, shape, raw little-endian bytes)."""

RELATIVE_TOLERANCE = 1e-5
"""Checksums are float64 sums of the same numbers in different orders."""


def pack_weights(named_parameters: Iterable[tuple[str, Any]]) -> list[PackedTensor]:
    """Parameters as msgpack-friendly tuples (tied weights appear once, as in `named_parameters`)."""
    import torch

    packed = []
    for name, tensor in named_parameters:
        data = tensor.detach().to("cpu").contiguous()
        raw = data.view(torch.uint8).numpy().tobytes() if data.numel() else b""
        packed.append((name, str(data.dtype).removeprefix("torch."), list(data.shape), raw))
    return packed


def unpack_weights(packed: list[PackedTensor]) -> list[tuple[str, Any]]:
    """The (name, tensor) pairs of `pack_weights`' output."""
    import torch

    tensors = []
    for name, dtype, shape, raw in packed:
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        tensors.append((name, flat.view(getattr(torch, dtype)).reshape(shape)))
    return tensors


def checksum(tensors: Iterable[Any], dtype: Any = None) -> tuple[float, float]:
    """(sum, sum of squares) over all elements, in float64 after an optional cast to `dtype`."""
    total = squares = 0.0
    for tensor in tensors:
        values = (tensor.to(dtype) if dtype is not None else tensor).double()
        total += float(values.sum())
        squares += float((values * values).sum())
    return total, squares


def same_checksum(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Equal within float64 reordering error; never for inf or NaN (a garbled float may be either)."""
    return all(math.isfinite(x) and math.isfinite(y) and abs(x - y) <= RELATIVE_TOLERANCE * max(1.0, abs(x), abs(y))
               for x, y in zip(a, b))


def check_load(reply: dict[str, Any], expected: tuple[float, float], version: int) -> None:
    """Raise `EngineError` unless the engine loaded exactly the weights the trainer sent."""
    if reply.get("version") != version:
        raise EngineError(f"the engine reports weight version {reply.get('version')}, expected {version}")
    received, cast, loaded = tuple(reply["received"]), tuple(reply["cast"]), reply["loaded"]
    if not same_checksum(received, expected):
        raise EngineError(f"weights arrived corrupted: checksum {received} != sent {expected}")
    if loaded is not None and not same_checksum(tuple(loaded), cast):
        raise EngineError(f"the engine's parameters after loading (checksum {loaded}) differ from the "
                          f"weights it received ({cast}): a partial or failed load")


class WeightSyncWorker:
    """Methods mixed into vLLM's worker class (`worker_extension_cls`); they run in the engine core."""

    reasoner_weight_version: int = 0

    def reasoner_load_weights(self, packed: list[PackedTensor], version: int) -> dict[str, Any]:
        import torch

        runner = self.model_runner  # type: ignore[attr-defined]
        dtype = runner.model_config.dtype
        weights = unpack_weights(packed)
        received = checksum(tensor for _, tensor in weights)
        cast = checksum((tensor for _, tensor in weights), dtype)
        with torch.no_grad():
            # In-place reload in checkpoint format: vLLM restores each layer's loading
            # state, loads, and re-runs its post-load processing (CPU weight packing).
            runner.reload_weights(weights_iterator=iter(weights), is_checkpoint_format=True)
            _refresh_tied_heads(runner.get_model())
        self.reasoner_weight_version = version
        parameters = [p.data for p in runner.get_model().parameters()]
        # CPU kernels keep packed copies and leave empty parameters behind; nothing to sum then.
        loaded = None if any(p.numel() == 0 for p in parameters) else list(checksum(parameters))
        return {"version": version, "received": list(received), "cast": list(cast), "loaded": loaded}


def _refresh_tied_heads(model) -> None:
    """Rebuild the CPU kernel of an output head that shares the embedding's weight.

    The reload re-processes each layer whose weights it loaded. A tied head
    loads nothing of its own, so on CPU its packed copy of the embedding
    would keep serving the old weights.
    """
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

    for module in model.modules():
        if isinstance(module, ParallelLMHead) and hasattr(module, "cpu_linear"):
            module.quant_method.process_weights_after_loading(module)


WORKER_EXTENSION = f"{__name__}.WeightSyncWorker"
