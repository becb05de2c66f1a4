"""Build Llama checkpoints in Hugging Face format from scratch: tokenizer and weights.

The bundled models and the test suite's tiny checkpoint are made here. A
checkpoint is an ordinary HF folder (`config.json`, safetensors,
`tokenizer.json` with a chat template), so vLLM serves it exactly like any
downloaded model. This module does not train; `reasoner.training` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, USER, ASSISTANT]

# One user turn, then the assistant's reply; the reply ends with EOS. The
# training code renders targets with `render_chat`, which must agree with it.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>\n{{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}<|assistant|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def render_prompt(user: str) -> str:
    """The chat-template text of one user turn followed by the assistant header."""
    return f"{BOS}{USER}\n{user}\n{ASSISTANT}\n"


class ModelShape(BaseModel):
    """Dimensions of a Llama model. Head size must be one vLLM's CPU backend supports."""

    model_config = ConfigDict(frozen=True)

    hidden_size: int = Field(128, ge=32)
    """Width of the residual stream."""
    intermediate_size: int = Field(384, ge=32)
    """Width of the MLP."""
    num_hidden_layers: int = Field(4, ge=1)
    """Transformer blocks."""
    num_attention_heads: int = Field(4, ge=1)
    """Query heads; hidden_size / heads must be 32 or 64."""
    num_key_value_heads: int | None = None
    """KV heads for grouped-query attention; None means as many as query heads."""
    max_position_embeddings: int = Field(512, ge=16)
    """Longest sequence the model handles."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """Train a byte-level BPE tokenizer with single-digit tokens and our chat template.

    Digits are split one per token so that arithmetic is learnable by small
    models; bytes make any text encodable.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT],
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
    )


def llama_config(shape: ModelShape, tokenizer):
    """A `LlamaConfig` for `shape` with the tokenizer's vocabulary and special ids."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads or shape.num_attention_heads,
        max_position_embeddings=shape.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        rope_theta=10000.0,
    )


def init_checkpoint(out_dir: str | Path, tokenizer, shape: ModelShape, seed: int = 0) -> Path:
    """Write a randomly initialised Llama with `tokenizer` to `out_dir`, in HF format."""
    import torch
    from transformers import LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(shape, tokenizer))
    save_checkpoint(model, tokenizer, out)
    return out


def save_checkpoint(model, tokenizer, out_dir: str | Path) -> Path:
    """Save model weights (bf16-free float32 safetensors) and tokenizer to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
