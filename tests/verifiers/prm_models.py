"""Tiny random-weight PRMs of each format's real architecture, built in the test session (nothing downloaded).

Each folder is what the format's detection and vLLM expect of the real model: `Qwen2ForProcessRewardModel`
(a `Qwen2Model` and a two-class `score` head) with `<extra_0>` and a ChatML template; a `MistralForCausalLM`
whose tokenizer adds a BOS token and holds the tag `ки`; a `LlamaForCausalLM` with a Llama-3-style chat
template (header and end-of-turn tokens). Two layers, hidden size 64: a forward pass takes milliseconds.
"""

from __future__ import annotations

from pathlib import Path

QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def corpus() -> list[str]:
    """Arithmetic word problems and their steps, with minus signs after spaces (so ' -' is one token)."""
    lines = []
    for i in range(300):
        a, b = i % 97 + 3, (i * 7) % 89 + 1
        lines.append(f"Ann has {a} pens and gives away {b}. How many pens does she have?\n"
                     f"Step 1: {a} - {b} = {a - b}\nStep 2: The answer is {a - b}. + - + -")
        lines.append(f"Tom has {a} cards and buys {b} more.\n{a} + {b} = {a + b}\nThe answer is \\boxed{{{a + b}}}.")
    return lines


def bpe_tokenizer(special: list[str], *, bos: str | None, eos: str, pad: str, chat_template: str | None,
                  added: tuple[str, ...] = (), add_bos: bool = False):
    """A byte-level BPE tokenizer trained on `corpus()`, with `special` tokens, plain `added` tokens, and
    (with `add_bos`) a BOS token put before every encoded text, as sentencepiece tokenizers do."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                       pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    tokenizer.add_tokens([AddedToken(token, normalized=False) for token in added])
    if add_bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad,
                                   chat_template=chat_template, model_max_length=512)


def qwen_prm(folder: Path) -> Path:
    """A tiny Qwen2.5-Math-PRM: `Qwen2Model` weights under `model.` and a `score` head (Linear, ReLU, Linear)."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2Model

    tokenizer = bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"], bos=None,
                              eos="<|im_end|>", pad="<|endoftext|>", chat_template=QWEN_TEMPLATE)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         tie_word_embeddings=False, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    config.architectures = ["Qwen2ForProcessRewardModel"]
    torch.manual_seed(1)
    body = Qwen2Model(config)
    head = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    state = {f"model.{k}": v.contiguous() for k, v in body.state_dict().items()}
    state.update({f"score.{k}": v.contiguous() for k, v in head.state_dict().items()})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def math_shepherd_prm(folder: Path) -> Path:
    """A tiny Math-Shepherd: a `MistralForCausalLM` whose tokenizer adds a BOS and holds the step tag `ки`."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    tokenizer = bpe_tokenizer(["<unk>", "<s>", "</s>"], bos="<s>", eos="</s>", pad="<unk>", chat_template=None,
                              added=("ки",), add_bos=True)
    config = MistralConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                           sliding_window=None, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(2)
    return _save(MistralForCausalLM(config), tokenizer, folder)


def rlhflow_prm(folder: Path) -> Path:
    """A tiny RLHFlow chat-turn PRM: a `LlamaForCausalLM` with a Llama-3-style chat template."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tokenizer = bpe_tokenizer(special, bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|end_of_text|>",
                              chat_template=LLAMA3_TEMPLATE, add_bos=True)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False)
    torch.manual_seed(3)
    return _save(LlamaForCausalLM(config), tokenizer, folder)


def _save(model, tokenizer, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
