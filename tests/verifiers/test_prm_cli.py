"""Bringing a PRM folder: `reasoner models import` names it (listed with its format), `reasoner verify prm`
prints each step's score as the model card computes it, and a job whose PRM server is down records the
failure on every problem and finishes. Torch runner and a closed port: no engine starts here."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from reasoner.cli import main
from reasoner.jobs import JobConfig, MemoryStore, run_job
from reasoner.jobs.pool import LocalPool
from reasoner.types import Problem
from reasoner.verifiers.prm import PRMSet, PRMSettings
from tests.scripted import ScriptedGenerator
from tests.verifiers import prm_models
from tests.verifiers.test_prm_formats import QUESTION, STEPS, card_qwen


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    return prm_models.qwen_prm(tmp_path_factory.mktemp("byo") / "Qwen-PRM-Tiny")


def test_an_imported_prm_folder_is_listed_with_its_format_and_scores_as_its_card(qwen_folder, tmp_path, capsys):
    models = tmp_path / "models"
    assert main(["models", "import", str(qwen_folder), "--models-dir", str(models)]) == 0
    assert "imported the qwen-prm PRM qwen-prm-tiny" in capsys.readouterr().out
    assert main(["models", "--json", "--models-dir", str(models)]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert (listed["qwen-prm-tiny"]["kind"], listed["qwen-prm-tiny"]["format"]) == ("prm", "qwen-prm")
    assert main(["verify", "prm", "--prm", "qwen-prm-tiny", "--models-dir", str(models), "--prm-runner", "torch",
                 "--prompt", QUESTION, "--solution", "\n\n".join(STEPS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "qwen-prm" and [s["text"] for s in report["steps"]] == STEPS
    assert [s["score"] for s in report["steps"]] == pytest.approx(card_qwen(qwen_folder, QUESTION, STEPS), abs=1e-4)


def test_importing_a_folder_of_no_known_format_names_the_formats(tmp_path, capsys):
    from reasoner.engine.models import BUNDLED_DIR

    assert main(["models", "import", str(BUNDLED_DIR / "tiny"), "--models-dir", str(tmp_path)]) == 2
    assert "not a PRM of a known format; the formats: math-shepherd" in capsys.readouterr().err


def test_a_job_whose_prm_server_is_down_records_the_failure_and_goes_on(qwen_folder, verifiers):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    prms = PRMSet(settings={str(qwen_folder): PRMSettings(url=closed)})
    pool = LocalPool(ScriptedGenerator(["1 + 1 = 2\n\nThe answer is \\boxed{2}."]), verifiers, prms=prms)
    problems = [Problem(id=f"p{i}", prompt=f"What is {i} + 1?", answer=str(i + 1)) for i in range(3)]
    config = JobConfig(dataset="arith", strategy="best_of_n", model="scripted",
                       strategy_options={"n": 2, "scorer": "prm", "scorer_options": {"prm": str(qwen_folder)}})
    store = MemoryStore()
    summary = asyncio.run(run_job(config, problems, pool, store=store, progress=False))
    records = list(store.records())
    assert sorted(r["problem_id"] for r in records) == ["p0", "p1", "p2"]
    assert all(f"the PRM server at {closed} cannot be reached" in r["error"] for r in records)
    assert summary.report()["problems"] == 3
