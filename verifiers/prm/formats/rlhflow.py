"""RLHFlow's chat-turn PRMs (e.g. Llama3.1-8B-PRM): each step a user turn, the assistant answers `+` or `-`.

The model card's scoring recipe: a conversation in which the first user turn is the question, a space
and the first step, every later user turn is one step, and every assistant turn is `+`; rendered with
the model's chat template. A step's score is P(`+`) normalised over {`+`, `-`} (the ids of `+` and `-`
as the tokenizer encodes them alone) at the position that predicts that step's assistant reply: the
last token of the generation prompt after the step's user turn (for Llama 3.1's template, the third
token from the end, as the card reads it). The conversation is causal, so one forward pass over the whole
conversation scores every step; the template must render a longer conversation as an extension of a
shorter one, which `encode` checks.

No folder says it is such a PRM (it is a chat model by its files): a causal LM with a chat template is
detected as one when its folder or saved name says "rlhflow", or "prm" (and not "shepherd"); otherwise
name the format (`--prm-format rlhflow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from reasoner.errors import ConfigError
from reasoner.steps import StepFormat
from reasoner.verifiers.prm.formats import Encoded, TwoTokenFormat, causal_lm, folder_hint, step_texts


class RLHFlowFormat(TwoTokenFormat):
    name: ClassVar[str] = "rlhflow"
    summary: ClassVar[str] = "RLHFlow chat-turn PRM (causal LM): P(+) over {+, -} for each step's assistant reply"

    @classmethod
    def detect(cls, folder: Path, config: dict[str, Any], tokenizer: Any) -> bool:
        hint = folder_hint(folder, config)
        named = "rlhflow" in hint or ("prm" in hint and "shepherd" not in hint)
        return causal_lm(config) and bool(getattr(tokenizer, "chat_template", None)) and named

    def check(self) -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(f"{self.folder}: the tokenizer has no chat template; a {self.name} PRM reads "
                              f"each step as a user turn of a chat")
        self._good_bad = (self.token_id(self.good, "the good reply"), self.token_id(self.bad, "the bad reply"))

    @property
    def good_bad_ids(self) -> tuple[int, int]:
        return self._good_bad

    def encode(self, prompt: str, solution: str, steps: StepFormat) -> Encoded:
        texts = step_texts(solution, steps)
        turns = [f"{prompt} {texts[0]}", *texts[1:]] if texts else []
        conversation: list[dict[str, str]] = []
        asked = []
        for turn in turns:
            conversation.append({"role": "user", "content": turn})
            asked.append(self._ids(conversation, generation_prompt=True))
            conversation.append({"role": "assistant", "content": self.good})
        ids = self._ids(conversation, generation_prompt=False) if conversation else []
        for prefix in asked:
            if ids[:len(prefix)] != prefix or ids[len(prefix):len(prefix) + 1] != [self.good_bad_ids[0]]:
                raise ConfigError(f"{self.folder}: its chat template does not render each reply {self.good!r} right "
                                  f"after the generation prompt, so the step scores cannot be read in one pass")
        return Encoded(ids=tuple(ids), positions=tuple(len(prefix) - 1 for prefix in asked))

    def _ids(self, conversation: list[dict[str, str]], generation_prompt: bool) -> list[int]:
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False,
                                                  add_generation_prompt=generation_prompt)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]
