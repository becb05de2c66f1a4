"""Each PRM format scores as its model card says: a tiny random model of the real architecture per format,
scored on a vLLM pooling engine (and with the torch runner), against the card's recipe written here with
plain transformers. Bad folders and tokenizers are refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reasoner.engine.models import BUNDLED_DIR
from reasoner.engine.runtime import run_sync
from reasoner.errors import ConfigError
from reasoner.verifiers.prm import PRMSettings, open_prm
from reasoner.verifiers.prm.formats import open_format
from tests.verifiers import prm_models

QUESTION = "Ann has 7 pens and gives away 3. How many pens does she have?"
STEPS = ["Ann starts with 7 pens.", "She gives away 3, so 7 - 3 = 4.", "The answer is 4."]


def card_qwen(folder: Path, question: str, steps: list[str]) -> list[float]:
    """Qwen2.5-Math-PRM's card: system prompt, the steps joined by <extra_0> (one after the last), the chat
    template; softmax over the two classes at each <extra_0>, class 1."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, Qwen2Model

    tokenizer = AutoTokenizer.from_pretrained(folder)
    body = Qwen2Model.from_pretrained(folder, dtype=torch.float32).eval()
    weights = load_file(str(folder / "model.safetensors"))
    head = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    head.load_state_dict({k.removeprefix("score."): v for k, v in weights.items() if k.startswith("score.")})
    messages = [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
                {"role": "user", "content": question},
                {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
    conversation = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    input_ids = tokenizer.encode(conversation, return_tensors="pt")
    with torch.no_grad():
        logits = head(body(input_ids=input_ids).last_hidden_state)
    mask = input_ids == tokenizer.encode("<extra_0>")[0]
    probabilities = torch.softmax(logits, dim=-1)[mask]
    return probabilities[:, 1].tolist()


def card_math_shepherd(folder: Path, question: str, steps: list[str]) -> list[float]:
    """Math-Shepherd's card: "question Step 1: ... ки\\nStep 2: ... ки", P(+) against P(-) at each tag."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    candidate_tokens = tokenizer.encode("+ -")[1:]
    step_tag_id = tokenizer.encode("ки")[-1]
    output = "\n".join(f"Step {i}: {step} ки" for i, step in enumerate(steps, 1))
    input_id = torch.tensor([tokenizer.encode(f"{question} {output}")])
    with torch.no_grad():
        logits = model(input_id).logits[:, :, candidate_tokens]
    scores = logits.softmax(dim=-1)[:, :, 0]
    return scores[input_id == step_tag_id].tolist()


def card_rlhflow(folder: Path, question: str, steps: list[str]) -> list[float]:
    """RLHFlow's card: each step a user turn (the first prefixed by the question), each reply '+'; for each
    step, the conversation so far, P(+) over {+, -} at the third token from the end."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    candidate_tokens = [tokenizer.encode("+")[-1], tokenizer.encode("-")[-1]]
    conversation, scores = [], []
    for k, step in enumerate(steps):
        conversation.append({"content": question + " " + step if k == 0 else step, "role": "user"})
        conversation.append({"content": "+", "role": "assistant"})
        input_ids = tokenizer.apply_chat_template(conversation, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(input_ids).logits[:, -3, candidate_tokens]
        scores.append(logits.softmax(dim=-1)[0, 0].item())
    return scores


def card_reasoner(folder: Path, question: str, steps: list[str]) -> list[float]:
    """Ours (MODEL.md): the question under the chat template, then the solution; the sigmoid of the token
    classifier's logit at the last token of each step."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder, dtype=torch.float32).eval()
    head = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)
    head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    solution = "\n".join(steps)
    body = tokenizer(solution, add_special_tokens=False, return_offsets_mapping=True)
    ends, start = [], 0
    for step in steps:
        end = solution.index(step, start) + len(step)
        ends.append(len(head_ids) + max(i for i, (a, _) in enumerate(body["offset_mapping"]) if a < end))
        start = end
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([head_ids + body["input_ids"]])).logits[0, :, 0]
    return torch.sigmoid(logits[ends]).tolist()


CARDS = {"qwen-prm": (prm_models.qwen_prm, "tiny-qwen-prm", card_qwen, "\n\n"),
         "math-shepherd": (prm_models.math_shepherd_prm, "tiny-math-shepherd", card_math_shepherd, "\n\n"),
         "rlhflow": (prm_models.rlhflow_prm, "tiny-rlhflow-prm", card_rlhflow, "\n\n"),
         "reasoner": (None, "tiny-prm", card_reasoner, "\n")}


@pytest.fixture(scope="module")
def prm_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("prm-formats")
    return {name: BUNDLED_DIR / folder if build is None else build(base / folder)
            for name, (build, folder, _, _) in CARDS.items()}


@pytest.fixture(scope="module", params=sorted(CARDS))
def served(request, prm_folders):
    """One format's PRM on its own vLLM pooling engine, closed when its tests are done."""
    name = request.param
    prm = open_prm(str(prm_folders[name]))
    yield name, prm
    run_sync(prm.pooler.close())


def test_detected_formats(prm_folders):
    assert {name: open_format(folder).name for name, folder in prm_folders.items()} == {n: n for n in CARDS}


def test_vllm_scores_equal_the_model_cards_recipe(served, prm_folders):
    name, prm = served
    _, _, card, delimiter = CARDS[name]
    expected = card(prm_folders[name], QUESTION, STEPS)
    scored = run_sync(prm.ascore([(QUESTION, delimiter.join(STEPS))]))
    assert len(expected) == len(STEPS)
    assert scored.steps[0] == pytest.approx(expected, abs=1e-3)
    assert max(expected) - min(expected) > 1e-4  # the positions read matter: the steps' scores differ


@pytest.mark.parametrize("name", sorted(CARDS))
def test_torch_runner_scores_equal_the_model_cards_recipe(name, prm_folders):
    _, _, card, delimiter = CARDS[name]
    prm = open_prm(str(prm_folders[name]), PRMSettings(runner="torch"))
    scored = prm.score([(QUESTION, delimiter.join(STEPS))])
    assert scored.steps[0] == pytest.approx(card(prm_folders[name], QUESTION, STEPS), abs=1e-4)


def test_a_folder_of_no_known_format_is_refused_with_the_formats_listed():
    with pytest.raises(ConfigError, match=r"LlamaForCausalLM\) is not a PRM of a known format; the formats: "
                                          r"math-shepherd .*qwen-prm .*reasoner .*rlhflow"):
        open_format(BUNDLED_DIR / "tiny")  # a policy: a causal LM that says nothing of being a PRM


def test_an_unsupported_architecture_is_refused(prm_folders, tmp_path):
    import json

    folder = tmp_path / "bert-like"
    shutil.copytree(prm_folders["qwen-prm"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["BertForMaskedLM"]}))
    with pytest.raises(ConfigError, match=r"\(BertForMaskedLM\) is not a PRM of a known format"):
        open_prm(str(folder))


def test_a_named_format_overrides_detection(prm_folders, tmp_path):
    anonymous = tmp_path / "some-causal-lm"  # nothing in its name says what it is
    shutil.copytree(prm_folders["rlhflow"], anonymous)
    with pytest.raises(ConfigError, match="not a PRM of a known format"):
        open_format(anonymous)
    assert open_format(anonymous, "rlhflow").name == "rlhflow"


def test_an_unknown_format_name_lists_the_formats():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown PRM format 'qwen'; choose one of math-shepherd, qwen-prm, "
                                          "reasoner, rlhflow"):
        PRMSettings(format="qwen")


@pytest.mark.parametrize(("name", "token", "message"), [
    ("qwen-prm", "<extra_0>", "the step separator '<extra_0>' as one token"),
    ("math-shepherd", "ки", "the step tag 'ки' as one token"),
])
def test_a_tokenizer_missing_the_step_tag_is_refused(name, token, message, prm_folders, tmp_path):
    folder = tmp_path / prm_folders[name].name
    shutil.copytree(prm_folders[name], folder)
    text = (folder / "tokenizer.json").read_text(encoding="utf-8")
    (folder / "tokenizer.json").write_text(text.replace(f'"{token}"', '"<unused_tag>"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{folder}: the tokenizer does not hold {message}"):
        open_format(folder, name)
