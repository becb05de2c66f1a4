"""PRM formats: how one family of process reward models reads a solution. One module per format, one registry.

A format is a small adapter around a PRM folder (its `config.json`, tokenizer and weights). It says:

- how a solution's steps, split by the policy's step format, become the PRM's input, and which token
  positions are read (`encode`): ours reads the last token of each step in the policy's own text,
  Qwen2.5-Math-PRM a `<extra_0>` after each step, Math-Shepherd a `ки` tag, RLHFlow's chat-turn PRM the
  token before each assistant reply;
- how the model's outputs at a read position become the probability that the solution is still right
  (`probability`): a sigmoid, or a softmax over two classes or two tokens;
- how the weights run: as a vLLM pooling model that returns every computed token's raw outputs
  (`engine_options`; activation off, so the format alone turns outputs into probabilities), or with
  transformers in this process (`torch_model`, the reference runner);
- whether a folder is of its kind (`detect`, from `config.json` and the tokenizer), and whether its
  tokenizer carries what the format needs (`check`, a `ConfigError` naming the token).

`FORMATS` maps names to adapters (`package.module:Class` also works); `open_format` detects a folder's
format, or takes the one named (`--prm-format`). Not here: running the model or batching requests
(`reasoner.verifiers.prm.served`, `.local`, `.server`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.steps import StepFormat

FORMATS = Registry("PRM format", {
    "reasoner": "reasoner.verifiers.prm.formats.reasoner:ReasonerFormat",
    "qwen-prm": "reasoner.verifiers.prm.formats.qwen_prm:QwenPRMFormat",
    "math-shepherd": "reasoner.verifiers.prm.formats.math_shepherd:MathShepherdFormat",
    "rlhflow": "reasoner.verifiers.prm.formats.rlhflow:RLHFlowFormat",
})
"""The PRM formats by name."""

DEFAULT_DELIMITER = "\n\n"
"""How a policy's solution is split into steps for a PRM whose folder does not say (MATH-style prose, as
search-and-learn splits it); a `step_format.json` in the folder (or written by `reasoner models import
--delimiter`) overrides it."""


class Encoded(BaseModel):
    """A solution as a PRM reads it."""

    model_config = ConfigDict(frozen=True)

    ids: tuple[int, ...]
    """Token ids of the PRM's whole input."""
    positions: tuple[int, ...]
    """Index of the token whose outputs score each step, in step order."""


class PRMFormat:
    """Base of every format: the folder's config and tokenizer, and what each format must say."""

    name: ClassVar[str]
    summary: ClassVar[str]
    """One line for `reasoner models` and error messages."""
    outputs: ClassVar[int]
    """Raw values the model gives per token (1 for a scalar head, 2 for two classes or two tokens)."""
    same_tokenizer: ClassVar[bool] = False
    """The PRM reads the policy's own tokenization (it was trained on it), so the policy must tokenize alike."""

    def __init__(self, folder: str | Path, config: dict[str, Any], tokenizer: Any) -> None:
        self.folder = Path(folder)
        self.config = config
        self.tokenizer = tokenizer
        self.check()

    @classmethod
    def detect(cls, folder: Path, config: dict[str, Any], tokenizer: Any) -> bool:
        """Whether the folder looks like a PRM of this format."""
        raise NotImplementedError

    def check(self) -> None:
        """A `ConfigError` naming what the folder or tokenizer lacks for this format."""

    def encode(self, prompt: str, solution: str, steps: StepFormat) -> Encoded:
        """The PRM's input for `solution` to `prompt`, split into steps with `steps`, and the positions read."""
        raise NotImplementedError

    def probability(self, row: list[float]) -> float:
        """The step probability from the model's raw outputs at one read position."""
        raise NotImplementedError

    def engine_options(self) -> dict[str, Any]:
        """vLLM engine arguments that serve this folder as a pooling model giving each token's raw outputs."""
        return {"runner": "pooling"}

    def torch_model(self) -> Any:
        """A callable `(ids, attention_mask) -> tensor [batch, tokens, outputs]` over the folder's weights."""
        raise NotImplementedError

    @property
    def max_len(self) -> int:
        """Tokens the model reads at most (its context length); a longer input is cut there."""
        text = self.config.get("text_config") or self.config
        return int(text.get("max_position_embeddings") or self.config.get("max_position_embeddings") or 1 << 20)

    def token_id(self, text: str, what: str) -> int:
        """The id of `text` when the tokenizer holds it as one token; a `ConfigError` naming `what` if not."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(f"{self.folder}: the tokenizer does not hold {what} {text!r} as one token "
                              f"(it splits it into {len(ids)}); not a {self.name} PRM's tokenizer")
        return ids[0]


class TwoTokenFormat(PRMFormat):
    """A causal LM read as a PRM: the probability of a `good` token against a `bad` one at each read position.

    vLLM serves it as a pooling model whose classifier is the two tokens' rows of the LM head (`--convert
    classify` with `classifier_from_token`, no post-processing), so each token yields [logit good, logit bad];
    the torch runner reads the same two logits from the LM head."""

    outputs: ClassVar[int] = 2
    good: ClassVar[str] = "+"
    bad: ClassVar[str] = "-"

    @property
    def good_bad_ids(self) -> tuple[int, int]:
        """Ids of the good and the bad token."""
        raise NotImplementedError

    def probability(self, row: list[float]) -> float:
        return softmax_pick(row, 0)

    def engine_options(self) -> dict[str, Any]:
        tokens = self.tokenizer.convert_ids_to_tokens(list(self.good_bad_ids))
        return {"runner": "pooling", "convert": "classify",
                "hf_overrides": {"classifier_from_token": tokens, "method": "no_post_processing"}}

    def torch_model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(self.folder, dtype=torch.float32).eval()
        columns = list(self.good_bad_ids)
        return lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits[..., columns]


def causal_lm(config: dict[str, Any]) -> bool:
    """Whether `config.json` describes a causal language model."""
    return any(arch.endswith("ForCausalLM") for arch in architectures(config))


def sigmoid(logit: float) -> float:
    """The logistic function, without overflow for large logits of either sign."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    small = math.exp(logit)
    return small / (1.0 + small)


def softmax_pick(row: list[float], index: int) -> float:
    """The softmax of `row`, at `index`."""
    top = max(row)
    weights = [math.exp(value - top) for value in row]
    return weights[index] / sum(weights)


def step_texts(solution: str, steps: StepFormat) -> list[str]:
    """The solution's non-blank steps, their surrounding whitespace stripped."""
    return [step.text.strip() for step in steps.split(solution)]


def read_config(folder: str | Path) -> dict[str, Any]:
    """A model folder's `config.json`; missing or unreadable is a `ConfigError` naming it."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{folder} has no config.json, so it is not a Hugging Face model folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc


def architectures(config: dict[str, Any]) -> list[str]:
    """The model classes a `config.json` names."""
    return [str(name) for name in config.get("architectures") or []]


def folder_hint(folder: Path, config: dict[str, Any]) -> str:
    """The folder's name and the name it was saved under, lower-cased: where a causal-LM PRM says what it is."""
    return f"{folder.name} {config.get('_name_or_path', '')}".lower()


def load_tokenizer(folder: str | Path) -> Any:
    """The folder's tokenizer; a `ConfigError` naming the folder when it has none."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder}: cannot load its tokenizer: {exc}") from exc


def open_format(folder: str | Path, name: str | None = None, tokenizer: Any = None) -> PRMFormat:
    """The format adapter of the PRM at `folder`: the one `name`d, else the one its import recorded
    (`reasoner models import`), else the one detected.

    No format or several matching is a `ConfigError` that lists the formats (and says to give one)."""
    from reasoner.engine.models import import_note

    folder = Path(folder)
    config = read_config(folder)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(folder)
    name = name or import_note(folder).get("format")
    if name is not None:
        return FORMATS.get(name)(folder, config, tokenizer)
    found = [key for key in FORMATS.names() if FORMATS.get(key).detect(folder, config, tokenizer)]
    if len(found) == 1:
        return FORMATS.get(found[0])(folder, config, tokenizer)
    listing = "; ".join(f"{key} ({FORMATS.get(key).summary})" for key in FORMATS.names())
    arch = ", ".join(architectures(config)) or "no architectures"
    if not found:
        raise ConfigError(f"{folder} ({arch}) is not a PRM of a known format; the formats: {listing}. "
                          f"Name one with --prm-format if it is one of them")
    raise ConfigError(f"{folder} ({arch}) could be a PRM of {' or '.join(found)}; name one with --prm-format")


def describe_formats() -> list[dict[str, str]]:
    """Each format's name and one-line summary."""
    return [{"name": key, "summary": FORMATS.get(key).summary} for key in FORMATS.names()]


__all__ = ["DEFAULT_DELIMITER", "FORMATS", "Encoded", "PRMFormat", "TwoTokenFormat", "describe_formats", "open_format",
           "read_config", "sigmoid", "softmax_pick", "step_texts"]
