"""Our own PRM format, as `reasoner train prm` writes it: a token classifier with one logit per token.

The folder holds a Hugging Face `LlamaForTokenClassification` (one label), its tokenizer (the policy's),
`step_format.json` and `prm_config.json`. The input is the prompt under the chat template followed by the
policy's solution text as it is; the logit at the last token of each step is the log-odds that the solution
is still right after it, so the probability is its sigmoid. The encoding is the one training uses
(`reasoner.verifiers.prm.encoding.encode`), so a PRM is read as it was trained. It was trained on the
policy's tokenization, so a policy with another tokenizer is refused (`same_tokenizer`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from reasoner.steps import StepFormat
from reasoner.verifiers.prm.formats import Encoded, PRMFormat, architectures, sigmoid


class ReasonerFormat(PRMFormat):
    name: ClassVar[str] = "reasoner"
    summary: ClassVar[str] = "ours (reasoner train prm): token classification, sigmoid of the step's last token"
    outputs: ClassVar[int] = 1
    same_tokenizer: ClassVar[bool] = True

    @classmethod
    def detect(cls, folder: Path, config: dict[str, Any], tokenizer: Any) -> bool:
        from reasoner.verifiers.prm.encoding import PRM_CONFIG_FILE

        token_classifier = any(arch.endswith("ForTokenClassification") for arch in architectures(config))
        return token_classifier and (folder / PRM_CONFIG_FILE).is_file()

    def check(self) -> None:
        from reasoner.steps import load_step_format
        from reasoner.verifiers.prm.encoding import read_prm_config

        self.info = read_prm_config(self.folder)
        self.step_format = load_step_format(self.folder)

    def encode(self, prompt: str, solution: str, steps: StepFormat) -> Encoded:
        from reasoner.verifiers.prm.encoding import encode

        ids, positions = encode(self.tokenizer, steps, prompt, solution, self.max_len)
        return Encoded(ids=tuple(ids), positions=tuple(positions))

    def probability(self, row: list[float]) -> float:
        return sigmoid(row[0])

    def torch_model(self) -> Any:
        import torch
        from transformers import AutoModelForTokenClassification

        model = AutoModelForTokenClassification.from_pretrained(self.folder, dtype=torch.float32).eval()
        return lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits[..., :1]
