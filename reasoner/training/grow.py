"""Grow a trained Llama into a wider and deeper one that starts out computing the same function.

This is Net2Net (Chen, Goodfellow and Shlens, 2016, "Net2Net: Accelerating
Learning via Knowledge Transfer"): widen by copying units and sharing their
outgoing weights among the copies; deepen with new layers that start as the
identity. For a pre-norm Llama with RMSNorm and tied embeddings, widening
the hidden size by an integer factor k works like this:

- The residual stream is k copies of the old one. RMS over the copies equals
  the old RMS, so every RMSNorm (weights copied) outputs copies too.
- A projection reading the stream sees each input k times, so its copied
  weights are divided by k; one writing to the stream (o_proj, down_proj)
  repeats its output rows. Attention heads are copied whole (head size is
  unchanged), so the attention pattern of every copy equals the original's.
- The MLP width grows by its own integer factor the same way.
- The tied output head would see k copies, so the final norm's weights are
  divided by k.
- New layers get the usual random initialisation with o_proj and down_proj
  zeroed, so they add nothing to the residual stream until trained.

Copies receive identical gradients and would stay identical, so a little
noise (`noise` x each tensor's standard deviation) is added to break the
symmetry; the grown model then matches the original up to that noise.

Not here: training (`reasoner.training.sft`, `--grow-from`).
"""

from __future__ import annotations

from typing import Any

from reasoner.training.checkpoint import ModelShape
from reasoner.errors import ConfigError

OUTPUT_PROJECTIONS = ("self_attn.o_proj", "mlp.down_proj")


def grow(model, shape: ModelShape, tokenizer, noise: float = 0.002, seed: int = 0):
    """A `LlamaForCausalLM` of `shape` initialised from `model` (see the module docstring)."""
    import torch
    from transformers import LlamaForCausalLM

    from reasoner.training.checkpoint import llama_config

    old = model.config
    k, m = _factor(shape.hidden_size, old.hidden_size, "hidden_size"), _factor(
        shape.intermediate_size, old.intermediate_size, "intermediate_size")
    if shape.num_attention_heads != k * old.num_attention_heads:
        raise ConfigError(f"growing keeps the head size: {shape.num_attention_heads} heads cannot come from "
                          f"{old.num_attention_heads} heads widened {k}x")
    if old.num_key_value_heads != old.num_attention_heads:
        raise ConfigError("growing supports plain multi-head attention only (no grouped key/value heads)")
    if shape.num_hidden_layers < old.num_hidden_layers:
        raise ConfigError(f"cannot grow {old.num_hidden_layers} layers into {shape.num_hidden_layers}")
    torch.manual_seed(seed)
    grown = LlamaForCausalLM(llama_config(shape, tokenizer))
    source = model.state_dict()
    target = grown.state_dict()
    with torch.no_grad():
        for name, value in target.items():
            if name == "lm_head.weight":
                continue  # tied to the embedding
            if name.startswith("model.layers."):
                index = int(name.split(".")[2])
                if index >= old.num_hidden_layers:
                    if name.endswith(tuple(f"{p}.weight" for p in OUTPUT_PROJECTIONS)):
                        value.zero_()
                    continue
            value.copy_(_widen(name, source[name], k, m))
            if value.dim() > 1 and noise:
                value.add_(torch.randn_like(value) * noise * float(source[name].float().std()))
    grown.load_state_dict(target)
    grown.tie_weights()
    return grown


def _factor(new: int, old: int, field: str) -> int:
    if new % old or new < old:
        raise ConfigError(f"{field} can only grow by a whole factor: {old} -> {new}")
    return new // old


def _widen(name: str, weight: Any, k: int, m: int):
    """`weight` for a model k times wider (MLP m times wider); see the module docstring."""
    if name == "model.embed_tokens.weight":
        return weight.repeat(1, k)
    if name == "model.norm.weight":
        return weight.repeat(k) / k
    if name.endswith("layernorm.weight"):
        return weight.repeat(k)
    if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")):
        return weight.repeat(k, k) / k
    if name.endswith(("gate_proj.weight", "up_proj.weight")):
        return weight.repeat(m, k) / k
    if name.endswith("down_proj.weight"):
        return weight.repeat(k, m) / m
    raise ConfigError(f"do not know how to grow parameter {name!r}")
