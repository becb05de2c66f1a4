"""One problem's search tree, read from a results file: nodes, the chosen path, the first wrong steps.

Search strategies record their tree as the last `tree` event of a Result's
trace (the agreed format: `value_source`, `delimiter`, `nodes`, `chosen`; each
node has `id`, `parent`, `depth`, `text`, `score`, `visits`, `value`,
`children`, `finished`, `pruned`); a job record keeps that trace.
`load_tree` finds a problem's record and validates its tree;
`mark_steps` grades each node's step with the task's exact step checker
(`arith`: `check_step` on every line of the step) and finds, on each path,
the first wrong step. Drawing is in `reasoner.eval.tree_draw`.

Not here: building trees (the strategies do) or scoring steps (the value
source did, when the tree was built). A step the checker cannot read (the
answer line) is neither right nor wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from reasoner.errors import ConfigError, DataError, JobError

SEARCH_STRATEGIES = ("beam_search", "dvts", "mcts", "particle_filter")
LISTED_IDS = 5
"""Problem ids named when the asked one is missing."""


class TreeNode(BaseModel):
    """One node of a search tree: a step and the value source's view of the prefix ending there."""

    id: int
    """Unique within the tree; the root is 0."""
    parent: int | None
    """The parent's id; None for the root."""
    depth: int = Field(ge=0)
    """Steps from the root."""
    text: str
    """This step's text, delimiter included if generated."""
    score: float | None
    """The value source's score of the prefix ending at this step."""
    visits: int = Field(ge=0)
    """MCTS: visit count; otherwise expansions."""
    value: float | None
    """MCTS mean backed-up value; else the score."""
    children: list[int]
    """Ids of the children."""
    finished: bool
    """Ended with end of sequence or a final answer."""
    pruned: bool
    """Dropped by the search."""


class SearchTree(BaseModel):
    """A problem's search tree as recorded, with where it came from."""

    problem_id: str
    """The problem searched."""
    strategy: str
    """The strategy that searched."""
    value_source: str
    """What scored the steps, e.g. `prm:tiny-prm`, `oracle` (an upper bound), `logprob`."""
    delimiter: str
    """The step delimiter."""
    nodes: list[TreeNode]
    """Root first."""
    chosen: int | None
    """The leaf whose path is the returned answer."""
    correct: bool | None = None
    """Whether the returned answer was graded correct; None if ungraded."""

    def node(self, node_id: int) -> TreeNode:
        return self._index()[node_id]

    def _index(self) -> dict[int, TreeNode]:
        return {node.id: node for node in self.nodes}

    def chosen_path(self) -> list[int]:
        """Ids from the root to the chosen leaf; empty when nothing was chosen."""
        if self.chosen is None:
            return []
        index, path, node_id = self._index(), [], self.chosen
        while node_id is not None:
            path.append(node_id)
            node_id = index[node_id].parent
        return path[::-1]

    @property
    def shows_visits(self) -> bool:
        """Visit counts carry information (MCTS): some node besides the root was visited more than once."""
        return any(node.visits > 1 for node in self.nodes[1:])


class StepMarks(BaseModel):
    """What the task's step checker says about each node."""

    checked: bool
    """False when the task has no step checker; the other fields are then empty."""
    wrong: set[int] = Field(default_factory=set)
    """Nodes whose step has a line the checker grades wrong."""
    first_wrong: set[int] = Field(default_factory=set)
    """Wrong nodes with no wrong ancestor: the first wrong step of every path through them."""
    after_wrong: set[int] = Field(default_factory=set)
    """Nodes below a first wrong step."""


StepChecker = Callable[[str], "bool | None"]


def load_tree(path: Path, problem_id: str, run: str | None = None) -> SearchTree:
    """The search tree of `problem_id` in the results file `path` (a solve job's or a sweep's).

    `run` picks one of a sweep's runs (e.g. `beam_search@4`) when several records of the problem hold trees.
    """
    from reasoner.jobs import iter_records

    if not path.is_file():
        raise JobError(f"no results file at {path}")
    records, seen = [], []
    for record in iter_records(path):
        if record.get("problem_id") == problem_id:
            records.append(record)
        elif len(seen) < LISTED_IDS and record.get("problem_id") not in seen:
            seen.append(record.get("problem_id"))
    if not records:
        listed = ", ".join(map(str, seen)) or "none: the file has no records"
        raise JobError(f"problem {problem_id!r} is not in {path}; ids there include {listed}")
    record = _pick(path, problem_id, records, run)
    return _tree_of(path, record)


def _pick(path: Path, problem_id: str, records: list[dict[str, Any]], run: str | None) -> dict[str, Any]:
    if run is not None:
        records = [r for r in records if r.get("run") == run]
        if not records:
            raise JobError(f"{path} has no record of problem {problem_id!r} from run {run!r}")
    with_tree = [r for r in records if _tree_event(r) is not None]
    if not with_tree:
        strategies = sorted({str(r.get("strategy") or r.get("run")) for r in records})
        raise JobError(f"the record of problem {problem_id!r} in {path} holds no search tree: it was made by "
                       f"{', '.join(strategies)}; only search strategies ({', '.join(SEARCH_STRATEGIES)}) "
                       f"record trees")
    if len(with_tree) > 1:
        runs = ", ".join(sorted(f"{r.get('model', '?')}/{r.get('run', '?')}" for r in with_tree))
        raise JobError(f"{len(with_tree)} records of problem {problem_id!r} in {path} hold trees ({runs}); "
                       f"pick one with --run")
    return with_tree[0]


def _tree_event(record: dict[str, Any]) -> dict[str, Any] | None:
    events = [e for e in record.get("trace") or [] if isinstance(e, dict) and e.get("kind") == "tree"]
    return events[-1].get("data") if events else None


def _tree_of(path: Path, record: dict[str, Any]) -> SearchTree:
    data = _tree_event(record)
    problem_id = record["problem_id"]
    try:
        graded = record.get("status") not in (None, "error")
        tree = SearchTree(problem_id=problem_id, strategy=str(record.get("strategy") or record.get("run")),
                          correct=record.get("correct") if graded else None, **data)
    except (ValidationError, TypeError) as exc:
        raise DataError(f"its search tree does not follow the tree format: {_first_error(exc)}",
                        path=path, record_id=problem_id) from exc
    _check_links(tree, path)
    return tree


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
    return str(exc)


def _check_links(tree: SearchTree, path: Path) -> None:
    """Root first, unique ids, and parents, children and depths that agree."""
    def bad(message: str) -> DataError:
        return DataError(f"its search tree is inconsistent: {message}", path=path, record_id=tree.problem_id)

    if not tree.nodes or tree.nodes[0].parent is not None:
        raise bad("the first node must be the root (parent None)")
    index = tree._index()
    if len(index) != len(tree.nodes):
        raise bad("node ids repeat")
    for node in tree.nodes:
        for child in node.children:
            if child not in index or index[child].parent != node.id:
                raise bad(f"node {node.id} lists child {child}, whose parent is not {node.id}")
            if index[child].depth != node.depth + 1:
                raise bad(f"node {child} has depth {index[child].depth} under a node of depth {node.depth}")
        if node.parent is not None and (node.parent not in index or node.id not in index[node.parent].children):
            raise bad(f"node {node.id} names parent {node.parent}, which does not list it")
    if tree.chosen is not None and tree.chosen not in index:
        raise bad(f"chosen node {tree.chosen} is not in the tree")


def step_checker_for(problem_id: str, task: str | None = None) -> StepChecker | None:
    """The exact step checker of `task` (default: the family named by the id's prefix, `arith-...`), or None."""
    from reasoner.training.prm.data import step_checker

    name = task or problem_id.split("-", 1)[0]
    try:
        return step_checker(name)
    except ConfigError:
        if task is not None:
            raise ConfigError(f"task {task!r} has no exact step checker; leave --task out to skip step checks")
        return None


def mark_steps(tree: SearchTree, check: StepChecker | None) -> StepMarks:
    """Grade every node's step with `check` (each line of it) and find the first wrong step on each path."""
    if check is None:
        return StepMarks(checked=False)
    wrong = {node.id for node in tree.nodes if any(check(line) is False for line in node.text.splitlines())}
    marks = StepMarks(checked=True, wrong=wrong)
    index = tree._index()
    stack = [(tree.nodes[0].id, False)]
    while stack:
        node_id, below_error = stack.pop()
        if below_error:
            marks.after_wrong.add(node_id)
        elif node_id in wrong:
            marks.first_wrong.add(node_id)
        stack += [(child, below_error or node_id in wrong) for child in index[node_id].children]
    return marks
