"""Labelled solutions as token ids in numpy arrays, grouped by problem, and the packed forward pass over them.

`EncodedSet` holds each problem's prompt once and each of its solutions'
tokens after it (4 bytes a token), the positions of the tokens that end each
labelled step, and the labels: 200,000 solutions of about 45 tokens take
about 40 MB. `encode_shard` caches a data shard's encoding beside it
(`shard-NNNNN.<tokenizer digest>.npz`), so a resumed or second run does not
tokenize again.

`packed_step_logits` scores whole problems: one row per problem holds its
prompt and then all its solutions, each solution attending to the prompt and
to itself only, with the positions it would have alone. The logits equal
those of one sequence per solution (tested) while the prompt, which is most of
every sequence in `arith`, is read once per problem instead of once per
solution.

Not here: what the labels mean (`reasoner.training.prm.data`) or the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reasoner.training.prm.data import Labelled


@dataclass
class EncodedSet:
    """Problems, their solutions' tokens, step positions and labels."""

    prompt_ids: np.ndarray
    prompt_off: np.ndarray
    """Problem g's prompt is prompt_ids[prompt_off[g]:prompt_off[g + 1]]."""
    sol_ids: np.ndarray
    sol_off: np.ndarray
    """Solution r's tokens are sol_ids[sol_off[r]:sol_off[r + 1]]."""
    group: np.ndarray
    """The problem of each solution (solutions of one problem are consecutive)."""
    steps: np.ndarray
    step_off: np.ndarray
    """Solution r's labelled step ends, as token indices within the solution: steps[step_off[r]:step_off[r+1]]."""
    labels: np.ndarray
    """The label of each of those steps."""
    origin: np.ndarray
    """The index, among the encoded examples, each solution came from (solutions without a labelled step are left out)."""

    @property
    def problems(self) -> int:
        return len(self.prompt_off) - 1

    @property
    def solutions(self) -> int:
        return len(self.sol_off) - 1

    @property
    def labelled_steps(self) -> int:
        return len(self.steps)

    def rows_of(self) -> list[np.ndarray]:
        """Per problem, the indices of its solutions."""
        bounds = np.searchsorted(self.group, np.arange(self.problems + 1))
        return [np.arange(bounds[g], bounds[g + 1]) for g in range(self.problems)]

    def step_labels(self, row: int) -> np.ndarray:
        return self.labels[self.step_off[row]:self.step_off[row + 1]]

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file, then a rename)."""
        staging = path.with_name(path.name + ".tmp.npz")
        np.savez(staging, **{name: getattr(self, name) for name in _FIELDS})
        staging.replace(path)

    @classmethod
    def load(cls, path: Path) -> EncodedSet:
        with np.load(path) as data:
            return cls(**{name: data[name] for name in _FIELDS})

    @classmethod
    def concat(cls, parts: list[EncodedSet]) -> EncodedSet:
        """One set holding every part's problems, in order."""
        return cls(prompt_ids=np.concatenate([p.prompt_ids for p in parts]),
                   prompt_off=_join_offsets([p.prompt_off for p in parts]),
                   sol_ids=np.concatenate([p.sol_ids for p in parts]),
                   sol_off=_join_offsets([p.sol_off for p in parts]),
                   group=np.concatenate(_shifted([p.group for p in parts], [p.problems for p in parts])),
                   steps=np.concatenate([p.steps for p in parts]),
                   step_off=_join_offsets([p.step_off for p in parts]),
                   labels=np.concatenate([p.labels for p in parts]),
                   origin=np.concatenate(_shifted([p.origin for p in parts],
                                                   [int(p.origin[-1]) + 1 if len(p.origin) else 0 for p in parts])))


_FIELDS = ("prompt_ids", "prompt_off", "sol_ids", "sol_off", "group", "steps", "step_off", "labels", "origin")


def _join_offsets(parts: list[np.ndarray]) -> np.ndarray:
    out, base = [np.zeros(1, dtype=np.int64)], 0
    for offsets in parts:
        out.append(offsets[1:] + base)
        base += int(offsets[-1])
    return np.concatenate(out)


def _shifted(groups: list[np.ndarray], sizes: list[int]) -> list[np.ndarray]:
    starts = np.cumsum([0, *sizes[:-1]])
    return [g + start for g, start in zip(groups, starts)]


def encode_examples(tokenizer, fmt, examples: list[Labelled], max_len: int) -> EncodedSet:
    """Encode labelled solutions (a problem's solutions consecutive); solutions with no labelled step are left out."""
    from reasoner.verifiers.prm.encoding import encode, prompt_text

    builder = _Builder()
    head_of: dict[str, int] = {}
    for index, example in enumerate(examples):
        ids, positions = encode(tokenizer, fmt, example.prompt, example.text, max_len)
        if example.prompt not in head_of:
            head_of[example.prompt] = len(tokenizer(prompt_text(tokenizer, example.prompt),
                                                    add_special_tokens=False)["input_ids"])
        head = head_of[example.prompt]
        pairs = [(p - head, label) for p, label in zip(positions, example.labels) if label is not None]
        if pairs and head < len(ids):
            builder.add(index, example.problem_id, ids[:head], ids[head:], pairs)
    return builder.build()


class _Builder:
    def __init__(self) -> None:
        self.prompts: list[list[int]] = []
        self.solutions: list[list[int]] = []
        self.group: list[int] = []
        self.steps: list[list[tuple[int, float]]] = []
        self.origin: list[int] = []
        self.last: str | None = None

    def add(self, index: int, problem_id: str, prompt: list[int], solution: list[int],
            pairs: list[tuple[int, float]]) -> None:
        if problem_id != self.last:
            self.prompts.append(prompt)
            self.last = problem_id
        self.solutions.append(solution)
        self.group.append(len(self.prompts) - 1)
        self.steps.append(pairs)
        self.origin.append(index)

    def build(self) -> EncodedSet:
        return EncodedSet(prompt_ids=_flat(self.prompts, np.int32), prompt_off=_offsets(self.prompts),
                          sol_ids=_flat(self.solutions, np.int32), sol_off=_offsets(self.solutions),
                          group=np.asarray(self.group, dtype=np.int32),
                          steps=_flat([[p for p, _ in row] for row in self.steps], np.int32),
                          step_off=_offsets(self.steps),
                          labels=_flat([[label for _, label in row] for row in self.steps], np.float32),
                          origin=np.asarray(self.origin, dtype=np.int64))


def _flat(rows: list[list], dtype) -> np.ndarray:
    return np.asarray([x for row in rows for x in row], dtype=dtype)


def _offsets(rows: list[list]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(row) for row in rows])]).astype(np.int64)


def encode_shard(shard: Path, tokenizer, fmt, max_len: int) -> EncodedSet:
    """A data shard's encoding, cached beside it per tokenizer and length cap."""
    from reasoner.training.prm.data import read_jsonl
    from reasoner.verifiers.prm.encoding import tokenizer_fingerprint

    cache = shard.with_name(f"{shard.stem}.{tokenizer_fingerprint(tokenizer)}-{max_len}.npz")
    if cache.is_file():
        return EncodedSet.load(cache)
    encoded = encode_examples(tokenizer, fmt, read_jsonl(shard, Labelled), max_len)
    encoded.save(cache)
    return encoded


def packed_inputs(data: EncodedSet, problems: list[tuple[int, list[int]]], pad_id: int):
    """Model inputs for a batch of (problem, its solution rows): ids, 4D mask, position ids, and
    per solution the flat indices (row * width + column) of its labelled step ends."""
    import torch

    rows = [_packed_row(data, g, solutions) for g, solutions in problems]
    width = max(len(ids) for ids, _, _, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    segment = torch.full((len(rows), width), -1, dtype=torch.long)
    reads: list[torch.Tensor] = []
    for index, (row_ids, row_pos, row_seg, row_reads) in enumerate(rows):
        ids[index, :len(row_ids)] = torch.as_tensor(row_ids)
        positions[index, :len(row_pos)] = torch.as_tensor(row_pos)
        segment[index, :len(row_seg)] = torch.as_tensor(row_seg)
        reads += [torch.as_tensor(r, dtype=torch.long) + index * width for r in row_reads]
    return ids, _block_mask(segment), positions, reads


def _packed_row(data: EncodedSet, problem: int, solutions: list[int]):
    """One problem's prompt then its solutions: ids, positions, segment (0 prompt, k solution k) and step reads."""
    prompt = data.prompt_ids[data.prompt_off[problem]:data.prompt_off[problem + 1]]
    parts, positions, segments, reads = [prompt], [np.arange(len(prompt))], [np.zeros(len(prompt), dtype=np.int64)], []
    start = len(prompt)
    for k, row in enumerate(solutions, start=1):
        tokens = data.sol_ids[data.sol_off[row]:data.sol_off[row + 1]]
        parts.append(tokens)
        positions.append(np.arange(len(prompt), len(prompt) + len(tokens)))
        segments.append(np.full(len(tokens), k, dtype=np.int64))
        reads.append(start + data.steps[data.step_off[row]:data.step_off[row + 1]])
        start += len(tokens)
    return np.concatenate(parts), np.concatenate(positions), np.concatenate(segments), reads


def _block_mask(segment):
    """Additive 4D mask: a token sees earlier prompt tokens and earlier tokens of its own solution;
    padding sees only itself (so no softmax row is empty)."""
    import torch

    width = segment.shape[1]
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    key, query = segment[:, None, :], segment[:, :, None]
    allowed = causal & (query >= 0) & (key >= 0) & ((key == 0) | (key == query))
    allowed |= torch.eye(width, dtype=torch.bool)
    mask = torch.zeros(allowed.shape, dtype=torch.float32)
    mask.masked_fill_(~allowed, torch.finfo(torch.float32).min)
    return mask[:, None, :, :]


def packed_step_logits(model, data: EncodedSet, problems: list[tuple[int, list[int]]], pad_id: int):
    """One forward pass over whole problems; each solution's step logits (a list of tensors, in order)."""
    ids, mask, positions, reads = packed_inputs(data, problems, pad_id)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[..., 0].reshape(-1)
    return [logits[r] for r in reads]
