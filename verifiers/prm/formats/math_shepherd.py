"""Math-Shepherd (a causal LM): every step ends with the tag `ки`; P(`+`) against P(`-`) at each tag.

The model card's scoring recipe: the input is the question, a space, and the solution written as
"Step 1: ... ки" lines joined by newlines, tokenized with the tokenizer's special tokens; at every
position whose token is the tag, the LM's logits for `+` and `-` (the two ids of "+ -") go through a
softmax, and the share of `+` is the step's score. The tag is one token of the model's vocabulary (in
context, as the card writes it after a space).

No folder says it is a Math-Shepherd PRM: a causal LM whose tokenizer holds the tag is detected as one
when its folder or saved name says "shepherd"; otherwise name the format (`--prm-format math-shepherd`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from reasoner.steps import StepFormat
from reasoner.verifiers.prm.formats import Encoded, TwoTokenFormat, causal_lm, folder_hint, step_texts

STEP_TAG = "ки"


class MathShepherdFormat(TwoTokenFormat):
    name: ClassVar[str] = "math-shepherd"
    summary: ClassVar[str] = f"Math-Shepherd (causal LM): P(+) against P(-) at each step tag {STEP_TAG!r}"

    @classmethod
    def detect(cls, folder: Path, config: dict[str, Any], tokenizer: Any) -> bool:
        single_tag = len(tokenizer.encode(STEP_TAG, add_special_tokens=False)) == 1
        return causal_lm(config) and single_tag and "shepherd" in folder_hint(folder, config)

    def check(self) -> None:
        self.tag_id = self.token_id(STEP_TAG, "the step tag")
        self._good_bad = _good_bad(self)

    @property
    def good_bad_ids(self) -> tuple[int, int]:
        return self._good_bad

    def encode(self, prompt: str, solution: str, steps: StepFormat) -> Encoded:
        lines = [f"Step {number}: {text} {STEP_TAG}" for number, text in enumerate(step_texts(solution, steps), 1)]
        ids = self.tokenizer.encode(f"{prompt} " + "\n".join(lines))
        return Encoded(ids=tuple(ids), positions=tuple(i for i, t in enumerate(ids) if t == self.tag_id))


def _good_bad(fmt: TwoTokenFormat) -> tuple[int, int]:
    """The ids of `+` and `-` as the card takes them: the tokens of "+ -" after the special tokens."""
    from reasoner.errors import ConfigError

    ids = fmt.tokenizer.encode(f"{fmt.good} {fmt.bad}", add_special_tokens=False)
    if len(ids) != 2:
        raise ConfigError(f"{fmt.folder}: the tokenizer splits {fmt.good + ' ' + fmt.bad!r} into {len(ids)} tokens, "
                          f"not two; not a {fmt.name} PRM's tokenizer")
    return ids[0], ids[1]
