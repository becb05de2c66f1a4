"""The `reasoner` command: solve, report, verify, models, and its error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reasoner.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures"


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_solve_json_summary_and_report(engine, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tiny_checkpoint),
                 "--strategy", "self_consistency", "--n", "2", "--max-tokens", "8", "--out", str(out), "--json"])
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert {"accuracy", "problems", "strategy", "n", "generated_tokens", "wall_s"} <= summary.keys()
    assert summary["problems"] == 2 and summary["strategy"] == "self_consistency" and summary["n"] == 2
    assert summary["generated_tokens"] > 0
    assert main(["report", str(out), "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["problems"] == 2 and report["generated_tokens"] == summary["generated_tokens"]
    assert set(report["by_level"]) == {"1", "2"}


def exit_status(argv: list[str]) -> int:
    """`main`'s status, whether it returns it or argparse exits with it (its usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_self_consistency_without_n_reports_its_default_and_option_reaches_the_strategy(
        engine, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tiny_checkpoint),
                 "--strategy", "self_consistency", "--option", "max_tokens=3", "--option", "temperature=0.5",
                 "--limit", "1", "--out", str(out), "--json"])
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["n"] == 8
    assert summary["options"]["max_tokens"] == 3 and summary["options"]["temperature"] == 0.5
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(record["candidates"]) == 8
    assert max(c["num_tokens"] for c in record["candidates"]) <= 3


# A model that does not exist: should a check regress, the command fails fast instead of starting an engine.
ABSENT = str(FIXTURES / "no-such-model")
SOLVE = ["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", ABSENT]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--max-tokens", "0"], "--max-tokens: input should be greater than or equal to 1, got 0"),
        (["--concurrency", "0"], "argument --concurrency: must be at least 1, got 0"),
        (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
        (["--limit", "0"], "argument --limit: must be at least 1, got 0"),
        (["--limit", "two"], "argument --limit: must be an integer, got 'two'"),
        (["--strategy", "self_consistency", "--n", "0"], "--n: input should be greater than or equal to 1"),
        (["--strategy", "best_of_n", "--option", "temperature=-0.5"],
         "--option temperature: input should be greater than or equal to 0"),
        (["--strategy", "self_consistency", "--option", "top_p=1.5"], "--option top_p: input should be less than"),
        (["--strategy", "best_of_n", "--option", "scorer=nope"], "--option scorer: unknown scorer 'nope'"),
        (["--strategy", "self_consistency", "--option", "weighted=[1]"], "--option weighted: input should be"),
        (["--option", "foo=1"], "--option foo: strategy 'cot' has no option 'foo'; its options: max_tokens"),
        (["--n", "4"], "--n: strategy 'cot' has no option 'n'"),
        (["--strategy", "self_consistency", "--n", "2", "--option", "n=3"], "'n' is already set by --n"),
        (["--option", "no-equals-sign"], "argument --option: expected KEY=VALUE"),
        (["--strategy", "nosuch"], "--strategy: unknown strategy 'nosuch'"),
        (["--strategy", "tests.slow_strategy:Slow", "--option", "nope=1"],
         "strategy 'tests.slow_strategy:Slow' has no option 'nope'"),
        (["--workers", "2", "--backend", "openai"], "--workers: runs vLLM engines in Ray actors; it needs backend vllm"),
        (["--strategy", "best_of_n", "--scorer", "prm", "--prm-actor"], "--prm-actor: shares a PRM between Ray"),
        (["--strategy", "self_consistency", "--workers", "2", "--prm-actor"],
         "--prm-actor: strategy 'self_consistency' with these options scores with 0 PRMs (none)"),
        (["--engine-arg", "tensor_paralel_size=2"], "--engine-arg tensor_paralel_size: 'tensor_paralel_size' is "
                                                    "not an argument of vLLM's AsyncEngineArgs; did you mean "
                                                    "tensor_parallel_size"),
        (["--engine-arg", "model=other"], "--engine-arg model: engine argument 'model' is set by reasoner itself"),
        (["--engine-arg", "kv_cache_dtype=fp7"],
         "--engine-arg kv_cache_dtype: engine argument kv_cache_dtype='fp7': input should be 'auto', 'float16'"),
        (["--engine-arg", "tensor_parallel_size=two"],
         "--engine-arg tensor_parallel_size: engine argument tensor_parallel_size='two': input should be a valid "
         "integer"),
        (["--engine-arg", "gpu_memory_utilization=1.5"],
         "--engine-arg gpu_memory_utilization: engine setting gpu_memory_utilization=1.5: input should be less than "
         "or equal to 1"),
        (["--engine-arg", "max_model_len=64", "--engine-arg", "max_model_len=128"], "--engine-arg max_model_len: "
                                                                                    "given twice"),
        (["--backend", "openai", "--engine-arg", "max_model_len=64"], "--engine-arg: configures vLLM engines"),
        (["--engine-arg", "no-equals-sign"], "argument --engine-arg: expected KEY=VALUE"),
    ],
)
def test_bad_solve_option_is_a_usage_error_before_anything_starts(extra, words, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert exit_status([*SOLVE, "--out", str(out), *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--max-tokens", "0"], "--max-tokens: input should be greater than or equal to 1, got 0"),
        (["--concurrency", "0"], "--concurrency: input should be greater than or equal to 1, got 0"),
        (["--limit", "0"], "--limit: input should be greater than or equal to 1, got 0"),
        (["--budgets", "1,0"], "--budgets:"),
        (["--strategies", "cot,nosuch"], "--strategies: unknown strategy 'nosuch'"),
        (["--option", "scorer=logprob"], "--option scorer: a sweep's options name their strategy"),
        (["--option", "best_of_n.nope=1"], "--option best_of_n.nope: strategy 'best_of_n' has no option 'nope'"),
        (["--option", "best_of_n.scorer=nope"], "--option best_of_n.scorer: unknown scorer 'nope'"),
        (["--option", "self_consistency.temperature=-1"], "--option self_consistency.temperature: input should"),
        (["--option", "nosuch.n=2"], "--option nosuch.*: unknown strategy 'nosuch'"),
        (["--engine-arg", "enforce_eagre=true"], "--engine-arg enforce_eagre: 'enforce_eagre' is not an argument "
                                                 "of vLLM's AsyncEngineArgs; did you mean enforce_eager"),
    ],
)
def test_bad_sweep_option_is_a_usage_error_before_anything_starts(extra, words, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--dataset", str(FIXTURES / "problems.jsonl"), "--models", ABSENT, "--out", str(out)]
    assert exit_status([*argv, *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["sft", "--steps", "0"], "--steps: input should be greater than or equal to 1, got 0"),
        (["sft", "--batch-size", "0"], "--batch-size: input should be greater than or equal to 1, got 0"),
        (["sft", "--lr", "-1"], "--lr: input should be greater than 0"),
        (["sft", "--direct-fraction", "2"], "--direct-fraction: input should be less than or equal to 1"),
        (["sft", "--threads", "0"], "argument --threads: must be at least 1, got 0"),
        (["sft", "--stop-at", "0"], "argument --stop-at: must be at least 1, got 0"),
        (["sft", "--weights", "1,x"], "--weights must be comma-separated numbers"),
        (["sft", "--size", "huge"], "--size: unknown size 'huge'"),
        (["sft", "--task", "nope"], "--task: unknown task 'nope'"),
        (["grpo", "--group-size", "1"], "--group-size: input should be greater than or equal to 2, got 1"),
        (["grpo", "--max-tokens", "0"], "--max-tokens: input should be greater than or equal to 1, got 0"),
        (["grpo", "--prompts-per-step", "0"], "--prompts-per-step: input should be greater than or equal to 1"),
        (["grpo", "--beta", "-0.1"], "--beta: input should be greater than or equal to 0"),
        (["grpo", "--workers", "-1"], "--workers: input should be greater than or equal to 0, got -1"),
        (["grpo", "--threads", "0"], "argument --threads: must be at least 1, got 0"),
        (["grpo", "--engine-arg", "dtype=float16"], "--engine-arg: 'dtype' is set by the GRPO run itself (use "
                                                    "engine_dtype)"),
        (["grpo", "--engine-arg", "max_num_seq=8"], "--engine-arg max_num_seq: 'max_num_seq' is not an argument of "
                                                    "vLLM's AsyncEngineArgs; did you mean max_num_seqs"),
    ],
)
def test_bad_train_option_is_a_usage_error_before_anything_starts(extra, words, tmp_path, capsys):
    out = tmp_path / "run"
    model = ["--init-from", ABSENT] if extra[0] == "sft" else ["--model", ABSENT]
    assert exit_status(["train", *extra, *model, "--out", str(out)]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--engine-arg", "other:max_model_len=64"], "--engine-arg other:max_model_len: 'other' is not a served "
                                                      "model (tiny, hub:org/name)"),
        (["--engine-arg", "hub:org/name:tensor_paralel_size=2"],
         "--engine-arg hub:org/name:tensor_paralel_size: 'tensor_paralel_size' is not an argument"),
        (["--engine-arg", "max_model_len=x"], "--engine-arg tiny:max_model_len: engine setting max_model_len='x'"),
        (["--engine-arg", "tiny:max_model_len=64", "--engine-arg", "tiny:max_model_len=32"],
         "--engine-arg tiny:max_model_len: given twice"),
        (["--backend", "openai", "--engine-arg", "max_model_len=64"], "--engine-arg: configures vLLM engines"),
    ],
)
def test_bad_serve_engine_arg_is_a_usage_error_before_anything_starts(extra, words, tmp_path, capsys):
    db = tmp_path / "service.db"
    argv = ["serve", "--model", "tiny", "--model", "hub:org/name", "--port", "0", "--db", str(db)]
    assert exit_status([*argv, *extra]) == 2
    assert words in capsys.readouterr().err
    assert not db.exists()


PRM_GPU = "--prm-gpu-memory-utilization"


@pytest.mark.parametrize("command", ["solve", "sweep", "serve"])
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([PRM_GPU, "1"], f"argument {PRM_GPU}: must be a fraction between 0 and 1 (exclusive), got 1"),
        ([PRM_GPU, "0"], f"argument {PRM_GPU}: must be a fraction between 0 and 1 (exclusive), got 0"),
        ([PRM_GPU, "half"], f"argument {PRM_GPU}: must be a number, got 'half'"),
        ([PRM_GPU, "0.3"], f"{PRM_GPU}: says how the PRM given with --prm runs"),
        (["--prm", "tiny-prm", PRM_GPU, "0.2"], f"{PRM_GPU}: the policy engine's gpu_memory_utilization=0.85 and "
                                                f"the shared PRM's prm_gpu_memory_utilization=0.2 sum to 1.05"),
        (["--prm", "tiny-prm", "--engine-arg", "gpu_memory_utilization=0.7", PRM_GPU, "0.3"],
         f"{PRM_GPU}: the policy engine's gpu_memory_utilization=0.7 and the shared PRM's "
         f"prm_gpu_memory_utilization=0.3 sum to 1.00"),
        (["--prm", "tiny-prm", "--prm-url", "http://127.0.0.1:9", PRM_GPU, "0.1"],
         f"{PRM_GPU}: the PRM at --prm-url http://127.0.0.1:9 runs on its server"),
    ],
)
def test_bad_prm_gpu_share_is_a_usage_error_before_anything_starts(command, extra, words, tmp_path, capsys):
    out = tmp_path / "out"
    model = ["--models" if command == "sweep" else "--model", "tiny"]
    where = ["--port", "0", "--db", str(out)] if command == "serve" else ["--dataset", "arith", "--out", str(out)]
    if command == "solve":
        where += ["--strategy", "best_of_n", "--scorer", "prm"]
    elif command == "sweep":  # a search valued by the PRM, which without --prm would be refused first
        where += ["--strategies", "beam_search" if "--prm" in extra else "cot"]
    assert exit_status([command, *model, *where, *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


def test_prm_gpu_share_reaches_the_prm_and_its_ray_actor_when_it_fits_beside_the_policy():
    from reasoner.cli import build_parser
    from reasoner.cli_options import pool_settings, prm_settings, solve_strategy
    from reasoner.engine.models import resolve_model

    args = build_parser().parse_args(["solve", "--dataset", "arith", "--strategy", "best_of_n", "--scorer", "prm",
                                      "--prm", "tiny-prm", "--workers", "2", "--prm-actor",
                                      "--engine-arg", "gpu_memory_utilization=0.5", PRM_GPU, "0.45"])
    args.prm = str(resolve_model(args.prm))
    strategy, _ = solve_strategy("best_of_n", [], {"scorer": ("--scorer", "prm"), "prm": ("--prm", args.prm)})
    settings = pool_settings(args, str(resolve_model("tiny")), strategy, None, prm_settings(args, args.prm))
    assert settings.prm_gpu_memory_utilization == 0.45  # the Ray GPU share of the shared PRM actor
    assert settings.prms[args.prm].gpu_memory_utilization == 0.45  # its vLLM engine's share


def test_prm_gpu_share_reaches_the_services_prm_settings(tmp_path):
    from reasoner.cli import build_parser
    from reasoner.cli_serve import serve_config
    from reasoner.engine.models import BUNDLED_DIR

    folder = str(BUNDLED_DIR / "tiny-prm")
    args = build_parser().parse_args(["serve", "--db", str(tmp_path / "s.db"), "--prm", folder,
                                      "--engine-arg", "gpu_memory_utilization=0.6", PRM_GPU, "0.3"])
    assert serve_config(args).prm_settings[folder].gpu_memory_utilization == 0.3


@pytest.mark.parametrize("kind", ["math", "code"])
def test_verify_timeout_must_be_positive(kind, capsys):
    args = ["--pred", "1", "--ref", "1"] if kind == "math" else ["--program", "p.py", "--tests", "t.json"]
    assert exit_status(["verify", kind, *args, "--timeout", "0"]) == 2
    assert "argument --timeout: must be a finite number greater than 0" in capsys.readouterr().err


def test_missing_model_path_exits_with_a_clear_message(tmp_path, capsys):
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tmp_path / "absent")])
    assert code == 1
    assert f"no model folder at {tmp_path / 'absent'}" in capsys.readouterr().err


def test_bad_dataset_line_exits_with_file_and_line(capsys):
    code = main(["solve", "--dataset", str(FIXTURES / "bad_json.jsonl")])
    assert code == 1
    assert "bad_json.jsonl:2: invalid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["solve", "sweep"])
def test_split_of_a_file_exits_with_a_clear_message(command, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([command, "--dataset", str(FIXTURES / "problems.jsonl"), "--split", "dev", "--out", str(out)])
    assert code == 1
    assert "split 'dev' applies to the bundled task families (arith, pyfunc)" in capsys.readouterr().err
    assert not out.exists()


def test_report_of_missing_file_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.jsonl")]) == 1
    assert "no results file" in capsys.readouterr().err


def test_verify_math_prints_a_json_verdict(capsys):
    assert main(["verify", "math", "--pred", "so \\boxed{\\frac{1}{2}}", "--ref", "0.5", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["status"] == "correct" and verdict["score"] == 1.0


def test_verify_code_prints_a_json_verdict(tmp_path, capsys):
    program = tmp_path / "p.py"
    program.write_text("def f(x):\n    return x + 1\n")
    tests = tmp_path / "t.json"
    tests.write_text(json.dumps({"asserts": ["assert f(1) == 2", "assert f(2) == 4"]}))
    assert main(["verify", "code", "--program", str(program), "--tests", str(tests), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["status"] == "incorrect" and verdict["score"] == 0.0
    assert "f(2) == 4" in verdict["detail"]


def test_help_imports_no_heavy_module():
    script = ("import sys\nfrom reasoner.cli import build_parser\nbuild_parser().format_help()\n"
              "heavy = [m for m in ('vllm', 'torch', 'ray', 'sympy', 'transformers') if m in sys.modules]\n"
              "print(heavy)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


TINY_PRM_FOLDER = str(Path(__file__).resolve().parents[2] / "reasoner" / "data" / "models" / "tiny-prm")


@pytest.mark.parametrize(("name", "options", "shared"), [
    ("best_of_n", {"n": 4, "scorer": "prm", "scorer_options": {}}, "tiny-prm"),
    ("self_consistency", {"n": 4, "weight_scorer": "prm", "scorer_options": {"prm": TINY_PRM_FOLDER}},
     TINY_PRM_FOLDER),
    ("beam_search", {"value": "prm", "prm": "tiny-prm"}, "tiny-prm"),
])
def test_prm_actor_shares_the_prm_the_strategy_scores_with(name, options, shared):
    import argparse

    from reasoner.cli_options import pool_settings
    from reasoner.strategies import build_strategy

    strategy = build_strategy(name, options)
    flags = dict(workers=2, engine_arg=[], ray_address=None, base_url=None, verbose=False, backend="vllm",
                 concurrency=8, strategy=name, prm_gpu_memory_utilization=None)
    assert pool_settings(argparse.Namespace(prm_actor=True, **flags), "tiny", strategy, None).prm_actor == shared
    assert pool_settings(argparse.Namespace(prm_actor=False, **flags), "tiny", strategy, None).prm_actor is None
