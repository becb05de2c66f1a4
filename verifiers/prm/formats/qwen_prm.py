"""Qwen2.5-Math-PRM (`Qwen2ForProcessRewardModel`): a two-class head read at an `<extra_0>` after each step.

The model card's scoring recipe: a chat of three messages, the system prompt
"Please reason step by step, and put your final answer within \\boxed{}.", the question as the user's
message, and the assistant's message made of the steps each followed by `<extra_0>`; rendered with the
model's chat template (no generation prompt) and tokenized; at every `<extra_0>` token the head's two
logits go through a softmax and class 1 is the probability that the step is right.

vLLM knows the architecture; its default step pooling (`STEP`) turns prefix caching off, so the engine is
asked for every token's outputs (`tok_pooling_type: ALL`) and the separators are read here, which lets the
prefix cache serve the steps a search has scored before. The torch runner builds the same network from
transformers' `Qwen2Model` and the checkpoint's `score` head (`Linear`, `ReLU`, `Linear` to two classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from reasoner.errors import ConfigError
from reasoner.steps import StepFormat
from reasoner.verifiers.prm.formats import Encoded, PRMFormat, architectures, softmax_pick, step_texts

ARCHITECTURE = "Qwen2ForProcessRewardModel"
SEPARATOR = "<extra_0>"
SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."


class QwenPRMFormat(PRMFormat):
    name: ClassVar[str] = "qwen-prm"
    summary: ClassVar[str] = f"Qwen2.5-Math-PRM ({ARCHITECTURE}): softmax of two classes at each {SEPARATOR}"
    outputs: ClassVar[int] = 2

    @classmethod
    def detect(cls, folder: Path, config: dict[str, Any], tokenizer: Any) -> bool:
        return ARCHITECTURE in architectures(config)

    def check(self) -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(f"{self.folder}: the tokenizer has no chat template; a {self.name} PRM reads "
                              f"its input through one")
        self.separator_id = self.token_id(SEPARATOR, "the step separator")

    def encode(self, prompt: str, solution: str, steps: StepFormat) -> Encoded:
        texts = step_texts(solution, steps)
        reply = "".join(text + SEPARATOR for text in texts)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt},
                    {"role": "assistant", "content": reply}]
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = self.tokenizer.encode(rendered)
        return Encoded(ids=tuple(ids), positions=tuple(i for i, t in enumerate(ids) if t == self.separator_id))

    def probability(self, row: list[float]) -> float:
        return softmax_pick(row, 1)

    def engine_options(self) -> dict[str, Any]:
        return {"runner": "pooling", "pooler_config": {"tok_pooling_type": "ALL"}}

    def torch_model(self) -> Any:
        return _torch_network(self.folder)


def _torch_network(folder: Path) -> Any:
    """`Qwen2Model` plus the checkpoint's two-class `score` head, as a callable over (ids, mask)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, Qwen2Model

    config = AutoConfig.from_pretrained(folder)
    body = Qwen2Model.from_pretrained(folder, dtype=torch.float32).eval()
    weights = {}
    for file in sorted(folder.glob("*.safetensors")):
        weights.update({k.removeprefix("score."): v for k, v in load_file(file).items() if k.startswith("score.")})
    head = torch.nn.Sequential(torch.nn.Linear(config.hidden_size, config.hidden_size), torch.nn.ReLU(),
                               torch.nn.Linear(config.hidden_size, 2))
    head.load_state_dict({k: v.float() for k, v in weights.items()})
    head.eval()
    return lambda ids, mask: head(body(input_ids=ids, attention_mask=mask).last_hidden_state)
