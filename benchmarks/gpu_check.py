"""`make gpu-check`: does reasoner run on this machine's GPU? One table of what ran, its tokens/s and any error.

On one CUDA GPU, with the bundled models (`tiny` policy, `tiny-prm`), it runs
in turn, each part in its own process so that each engine gives its GPU
memory back before the next starts:

- `strategies`: every registered strategy on 8 arith dev problems through the
  Python API (one engine); the four PRM-guided searches score with `tiny-prm`,
  and best-of-n once more with the PRM as scorer;
- `grpo`: a two-step GRPO run (`reasoner train grpo`), which pushes new weights
  into the engine after each step (its metrics give tokens/s and the
  log-prob gap between trainer and engine after the sync);
- `service`: `reasoner serve`, and chat completions through the `openai`
  client with a per-request strategy;
- `ray_pool`: `reasoner solve --workers 1` (one Ray actor on a GPU share), and
  a beam search whose PRM runs in its own actor on the same GPU (`--prm-actor`).

A part that fails or overruns its time limit is a row with its error; the
others still run. Every part has a time limit, and the whole check stays within 10
minutes (`--minutes`). Exit status: 0 when every row ran, 1 when one failed,
2 (with a message) on a machine without a CUDA GPU, where there is nothing to
check.

Not run on a GPU yet: it was written on a CPU-only machine, where only the
refusal and `--help` are tested (tests/benchmarks/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBLEMS = 8
"""arith dev problems per row."""
MAX_TOKENS = 128
SEARCHES = ("beam_search", "dvts", "mcts", "particle_filter")
"""The PRM-guided strategies (scored with tiny-prm)."""
ROUTER = Path(__file__).resolve().parents[1] / "reasoner" / "data" / "routers" / "tiny-arith.json"
RESULTS = Path(__file__).resolve().parent / "results" / "gpu_check.json"
PART_SECONDS = {"strategies": 240, "grpo": 150, "service": 90, "ray_pool": 120}
"""Time limit of each part; together 10 minutes."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpu_check.py", description="Run every strategy, a PRM-guided search, a short GRPO run with weight "
        "sync, the service and a Ray pool on this machine's GPU with the bundled models, and print one table "
        "of what ran, tokens/s and any error. Needs a CUDA GPU (exits with status 2 without one).")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="results file: the rows, the GPU and provenance "
                        "(default benchmarks/results/gpu_check.json)")
    parser.add_argument("--part", choices=sorted(PART_SECONDS), help=argparse.SUPPRESS)  # one part, in a child
    parser.add_argument("--rows", type=Path, help=argparse.SUPPRESS)  # where a child appends its rows
    return parser.parse_args(argv)


def gpu_missing() -> str | None:
    """Why there is no GPU to check here, or None when torch sees a CUDA device."""
    import torch

    if torch.cuda.is_available():
        return None
    smi = "nvidia-smi is on the PATH" if _which("nvidia-smi") else "there is no nvidia-smi"
    return (f"gpu-check needs a CUDA GPU, and torch {torch.__version__} sees none here ({smi}). "
            f"On a machine with an NVIDIA GPU, install the gpu extra first (`REASONER_EXTRA=gpu make install`).")


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def row(check: str, seconds: float, tokens: int | None = None, error: str | None = None, **notes: Any) -> dict:
    """One line of the table: what ran, how long, its generated tokens per second, any error."""
    rate = round(tokens / seconds, 1) if tokens is not None and seconds > 0 else None
    return {"check": check, "seconds": round(seconds, 1), "tokens_per_s": rate, "error": error, **notes}


def problems():
    from reasoner.tasks import load_task

    return load_task("arith", split="dev")[:PROBLEMS]


def strategy_runs() -> list[tuple[str, str, dict]]:
    """(strategy, row label, options) of every registered strategy, the searches with tiny-prm, and best-of-n
    with the PRM as scorer."""
    from reasoner.strategies import STRATEGIES

    runs: list[tuple[str, str, dict]] = []
    for name in STRATEGIES.names():
        if name in SEARCHES:
            runs.append((name, f"{name} (tiny-prm)", {"prm": "tiny-prm"}))
        elif name in ("router", "oracle_router"):
            runs.append((name, name, {"router": str(ROUTER), "target_accuracy": 0.5}))
        else:
            runs.append((name, name, {"max_tokens": MAX_TOKENS}))
    runs.append(("best_of_n", "best_of_n (prm scorer)",
                 {"max_tokens": MAX_TOKENS, "scorer": "prm", "scorer_options": {"prm": "tiny-prm"}}))
    return runs


def strategy_rows() -> list[dict]:
    """Every run of `strategy_runs` through the Python API, on one engine."""
    from reasoner.api import Reasoner

    reasoner = Reasoner("tiny")
    return [_strategy_row(reasoner, name, label, options) for name, label, options in strategy_runs()]


def _strategy_row(reasoner, name: str, label: str, options: dict) -> dict:
    started = time.perf_counter()
    try:
        results = reasoner.solve_many(problems(), name, **options)
    except Exception as exc:  # reported as the row's error: the check's whole point
        return row(label, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    errors = [r.error for r in results if r.error]
    return row(label, seconds, sum(r.cost.generated_tokens for r in results), error=errors[0] if errors else None,
               correct=sum(bool(r.correct) for r in results))


def reasoner_cli(*args: str, timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reasoner.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def grpo_rows(work: Path) -> list[dict]:
    out = work / "grpo"
    started = time.perf_counter()
    run = reasoner_cli("train", "grpo", "--model", "tiny", "--steps", "2", "--prompts-per-step", "4",
                       "--group-size", "4", "--max-tokens", "64", "--out", str(out),
                       timeout=PART_SECONDS["grpo"] - 10, cwd=work)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        return [row("grpo: 2 steps with weight sync", seconds, error=_tail(run.stderr))]
    from reasoner.training.grpo import read_metrics

    metrics = read_metrics(out / "metrics.jsonl")
    tokens = sum(m["generated_tokens"] for m in metrics)
    return [row("grpo: 2 steps with weight sync", seconds, tokens,
                logprob_diff_after_sync=metrics[-1].get("logprob_diff_mean"))]


def solve_rows(work: Path) -> list[dict]:
    """`reasoner solve` on a Ray pool of one actor, then with the PRM in its own actor beside it."""
    dataset = ["--dataset", "arith", "--split", "dev", "--limit", str(PROBLEMS), "--model", "tiny",
               "--workers", "1", "--json"]
    runs = [("ray pool: self_consistency",
             ["--strategy", "self_consistency", "--n", "4", "--max-tokens", str(MAX_TOKENS)]),
            ("ray pool: beam_search, PRM actor", ["--strategy", "beam_search", "--prm", "tiny-prm", "--prm-actor"])]
    rows = []
    for index, (label, extra) in enumerate(runs):
        out = work / f"ray{index}.jsonl"
        started = time.perf_counter()
        run = reasoner_cli("solve", *dataset, *extra, "--out", str(out), timeout=PART_SECONDS["ray_pool"] / 2,
                           cwd=work)
        seconds = time.perf_counter() - started
        rows.append(_solve_row(label, seconds, run, out))
    return rows


def _solve_row(label: str, seconds: float, run: subprocess.CompletedProcess, out: Path) -> dict:
    if run.returncode != 0:
        return row(label, seconds, error=_tail(run.stderr))
    from reasoner.jobs import read_records

    records = read_records(out)
    errors = [r["error"] for r in records if r.get("error")]
    tokens = sum(r["cost"]["generated_tokens"] for r in records)
    return row(label, seconds, tokens, error=errors[0] if errors else None)


def service_rows(work: Path) -> list[dict]:
    """`reasoner serve` and chat completions with a per-request strategy, through the openai client."""
    server = subprocess.Popen([sys.executable, "-m", "reasoner.cli", "serve", "--model", "tiny", "--port", "0",
                               "--db", str(work / "service.sqlite")], cwd=work, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    started = time.perf_counter()
    try:
        url = _served_url(server)
        return [_chat_row(url, strategy, started) for strategy in ("cot", "self_consistency")]
    except (RuntimeError, OSError) as exc:
        return [row("service", time.perf_counter() - started, error=str(exc))]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _served_url(server: subprocess.Popen) -> str:
    for line in server.stderr:
        if " on http" in line and line.startswith("reasoner: serving"):
            return line.rsplit(" on ", 1)[1].strip()
    raise RuntimeError(f"reasoner serve exited with status {server.wait()} before serving")


def _chat_row(url: str, strategy: str, started: float) -> dict:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="unused", timeout=60)
    begun = time.perf_counter()
    try:
        reply = client.chat.completions.create(model="tiny", max_tokens=MAX_TOKENS, messages=[
            {"role": "user", "content": problems()[0].prompt}], extra_body={"reasoner": {"strategy": strategy}})
    except Exception as exc:  # the client's error is the row's error
        return row(f"service: chat, {strategy}", time.perf_counter() - begun, error=f"{type(exc).__name__}: {exc}")
    return row(f"service: chat, {strategy}", time.perf_counter() - begun, reply.usage.completion_tokens,
               since_start_s=round(time.perf_counter() - started, 1))


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


PARTS = {"strategies": lambda work: strategy_rows(), "grpo": grpo_rows, "service": service_rows,
         "ray_pool": solve_rows}


def run_part(part: str, rows_file: Path) -> None:
    """In a child process: one part's rows, appended to `rows_file` as JSON lines."""
    with tempfile.TemporaryDirectory(prefix=f"gpu-check-{part}-") as work:
        rows = PARTS[part](Path(work))
    with rows_file.open("a") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)


def run_all(rows_file: Path) -> list[dict]:
    """Every part in its own process, each within its time limit; a part that fails is a row saying so."""
    rows: list[dict] = []
    for part, seconds in PART_SECONDS.items():
        before = len(_read_rows(rows_file))
        started = time.perf_counter()
        try:
            child = subprocess.run([sys.executable, __file__, "--part", part, "--rows", str(rows_file)],
                                   capture_output=True, text=True, timeout=seconds)
            failure = None if child.returncode == 0 else f"exited with {child.returncode}: {_tail(child.stderr)}"
        except subprocess.TimeoutExpired:
            failure = f"over its {seconds} s limit"
        rows = _read_rows(rows_file)
        if failure is not None and len(rows) == before:
            with rows_file.open("a") as handle:
                handle.write(json.dumps(row(part, time.perf_counter() - started, error=failure)) + "\n")
    return _read_rows(rows_file)


def _read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="reasoner gpu-check")
    for column in ("check", "seconds", "tokens/s", "error"):
        table.add_column(column)
    for entry in rows:
        rate = "-" if entry["tokens_per_s"] is None else f"{entry['tokens_per_s']:.0f}"
        table.add_row(entry["check"], f"{entry['seconds']:.1f}", rate, entry["error"] or "")
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = gpu_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    if args.part is not None:
        run_part(args.part, args.rows)
        return 0
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        rows = run_all(Path(work) / "rows.jsonl")
    print_table(rows)
    from measure import write_results

    write_results(args.out, {"gpu": _gpu_name(), "rows": rows})
    return 0 if rows and all(entry["error"] is None for entry in rows) else 1


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


if __name__ == "__main__":
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    sys.exit(main())
