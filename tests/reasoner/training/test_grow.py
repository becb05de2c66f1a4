"""Net2Net growth: the grown model starts out computing what the trained one computes."""

from __future__ import annotations

import pytest
import torch

from reasoner.training.checkpoint import ModelShape
from reasoner.errors import ConfigError
from reasoner.training.grow import grow
from reasoner.training.sft import SFTConfig, train_sft

WIDER = ModelShape(hidden_size=128, intermediate_size=384, num_hidden_layers=3, num_attention_heads=4,
                   max_position_embeddings=512)


@pytest.fixture(scope="module")
def trained(tiny_checkpoint):
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(tiny_checkpoint, torch_dtype=torch.float32).eval()
    with torch.no_grad():  # norms away from 1, so a wrong scaling of them would show
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.uniform_(0.5, 1.5)
    return model, AutoTokenizer.from_pretrained(tiny_checkpoint)


def log_probs(model, ids):
    with torch.no_grad():
        return model(ids).logits.log_softmax(-1)


def test_grown_model_computes_the_same_distribution(trained):
    model, tokenizer = trained
    grown = grow(model, WIDER, tokenizer, noise=0.0).eval()
    assert grown.config.hidden_size == 128 and grown.config.num_hidden_layers == 3
    assert sum(p.numel() for p in grown.parameters()) > 2 * sum(p.numel() for p in model.parameters())
    ids = torch.tensor([tokenizer("Ann has 3 pens and buys 4 more.\n3 + 4 = 7")["input_ids"]])
    assert torch.allclose(log_probs(grown, ids), log_probs(model, ids), atol=1e-4)


def test_noise_breaks_the_copies_apart_but_stays_close(trained):
    model, tokenizer = trained
    grown = grow(model, WIDER, tokenizer).eval()
    q = grown.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(q[:64], q[64:])  # the two copies of the original heads differ
    ids = torch.tensor([tokenizer("Ann has 3 pens")["input_ids"]])
    gap = (log_probs(grown, ids) - log_probs(model, ids)).abs().max()
    assert 0 < float(gap) < 0.5


@pytest.mark.parametrize("shape, message", [
    (ModelShape(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=3), "whole factor"),
    (ModelShape(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2), "head size"),
    (ModelShape(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2), "layers"),
])
def test_shapes_that_cannot_be_grown_into_are_refused(trained, shape, message):
    model, tokenizer = trained
    with pytest.raises(ConfigError, match=message):
        grow(model, shape, tokenizer)


def test_sft_can_start_from_a_grown_model(tiny_checkpoint, tmp_path):
    config = SFTConfig(shape=WIDER, grow_from=str(tiny_checkpoint), steps=2, batch_size=4, micro_batch=4,
                       warmup_steps=0, bf16=False, threads=1)
    train_sft(config, tmp_path, progress=False)
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(tmp_path).hidden_size == 128
