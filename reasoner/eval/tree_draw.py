"""Drawing a search tree: a layered PNG (matplotlib, Agg) or a self-contained HTML page (nested lists).

Both show each node's step score (and visit count when visits carry
information, as in MCTS), the chosen path (thick black edges in the PNG, a
bold outlined row in the HTML), and, when the task's step checker graded the
steps, the first wrong step of each path (a vermillion cross) with the steps
below it faded. The layout is layered: depth downwards, leaves spread evenly
left to right in tree order, each parent centred over its children.

Not here: reading or checking a tree (`reasoner.eval.tree`).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from reasoner.errors import OptionError
from reasoner.eval.tree import SearchTree, StepMarks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHOSEN = "#000000"
WRONG = "#D55E00"
MAX_LABELLED_NODES = 40
"""Larger trees show step text only on the chosen path."""
SNIPPET = 22
"""Characters of step text shown under a node in the PNG."""
NEWLINE = "\n"
"""Shown as ↵ in the HTML, so a step's delimiter stays visible."""
CROSS = (0.22, -0.22)
"""Where a first wrong step's cross sits, from its node (x, depth)."""


def draw_tree(tree: SearchTree, marks: StepMarks, path: Path) -> Path:
    """Write `tree` to `path`: PNG or HTML by the file's suffix."""
    return writer_for(path)(tree, marks, path)


def writer_for(path: Path):
    """`draw_png` or `write_html`, by the suffix of `path`."""
    writers = {".png": draw_png, ".html": write_html}
    if path.suffix.lower() not in writers:
        raise OptionError(f"--out {path}: give a .png or .html file")
    return writers[path.suffix.lower()]


def layout(tree: SearchTree) -> dict[int, tuple[float, int]]:
    """(x, depth) of every node: leaves at 0, 1, 2, ... in depth-first order, parents over their children."""
    index = {node.id: node for node in tree.nodes}
    order, stack = [], [tree.nodes[0].id]
    while stack:  # pre-order, children left to right
        node_id = stack.pop()
        order.append(node_id)
        stack.extend(reversed(index[node_id].children))
    where: dict[int, tuple[float, int]] = {}
    leaves = [node_id for node_id in order if not index[node_id].children]
    where.update({node_id: (float(x), index[node_id].depth) for x, node_id in enumerate(leaves)})
    for node_id in reversed(order):  # children before their parents
        if index[node_id].children:
            xs = [where[child][0] for child in index[node_id].children]
            where[node_id] = ((min(xs) + max(xs)) / 2, index[node_id].depth)
    return where


# PNG


def draw_png(tree: SearchTree, marks: StepMarks, path: Path) -> Path:
    """`tree_figure` saved as a PNG at `path`."""
    tree_figure(tree, marks).canvas.print_png(str(path))
    return path


def tree_figure(tree: SearchTree, marks: StepMarks) -> Figure:
    """The tree, layered; node colour is the step score (colour-blind-safe `cividis`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    where = layout(tree)
    leaves = max(x for x, _ in where.values()) + 1
    depth = max(d for _, d in where.values()) + 1
    figure = Figure(figsize=(min(40.0, 3.0 + 1.3 * leaves), 2.2 + 1.25 * depth), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    chosen = set(tree.chosen_path())
    _edges(axes, tree, where, chosen, marks)
    points = _nodes(axes, tree, where, chosen, marks)
    _labels(axes, tree, where, chosen, marks)
    figure.colorbar(points, ax=axes, shrink=0.6, label="step score").ax.tick_params(labelsize="small")
    axes.set_xlim(-0.7, leaves - 0.3)
    axes.set_ylim(depth - 0.35, -0.6)
    axes.set_yticks(range(depth), [f"step {d}" if d else "root" for d in range(depth)], fontsize="small")
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    figure.legend(handles=_legend_handles(marks), loc="outside lower center", ncols=4, fontsize="small",
                  frameon=False)
    figure.suptitle(_title(tree, marks), fontsize="medium", wrap=True)
    return figure


def _edges(axes: Axes, tree: SearchTree, where, chosen: set[int], marks: StepMarks) -> None:
    for node in tree.nodes[1:]:
        (x0, y0), (x1, y1) = where[node.parent], where[node.id]
        on_path = node.id in chosen and node.parent in chosen
        axes.plot([x0, x1], [y0, y1], color=CHOSEN if on_path else "0.6", linewidth=3.0 if on_path else 1.0,
                  linestyle=":" if node.pruned else "-", alpha=0.4 if node.id in marks.after_wrong else 1.0,
                  zorder=1, gid=f"edge-{node.id}" + ("-chosen" if on_path else ""))


def _nodes(axes: Axes, tree: SearchTree, where, chosen: set[int], marks: StepMarks):
    xs = [where[n.id][0] for n in tree.nodes]
    ys = [where[n.id][1] for n in tree.nodes]
    scores = [n.score if n.score is not None else float("nan") for n in tree.nodes]
    points = axes.scatter(xs, ys, c=scores, cmap="cividis", vmin=0.0, vmax=1.0, s=260, zorder=2,
                          marker="o", edgecolors=[CHOSEN if n.id in chosen else "0.5" for n in tree.nodes],
                          linewidths=[2.5 if n.id in chosen else 0.8 for n in tree.nodes], plotnonfinite=True,
                          alpha=[0.4 if n.id in marks.after_wrong else 1.0 for n in tree.nodes])
    finished = [n for n in tree.nodes if n.finished]
    axes.scatter([where[n.id][0] for n in finished], [where[n.id][1] for n in finished], s=520, marker="s",
                 facecolors="none", edgecolors="0.35", linewidths=1.0, zorder=1.5)
    wrong = [n for n in tree.nodes if n.id in marks.first_wrong]
    axes.scatter([where[n.id][0] + CROSS[0] for n in wrong], [where[n.id][1] + CROSS[1] for n in wrong], s=120,
                 marker="X", color=WRONG, zorder=4, gid="first-wrong")
    return points


def _labels(axes: Axes, tree: SearchTree, where, chosen: set[int], marks: StepMarks) -> None:
    texts = len(tree.nodes) <= MAX_LABELLED_NODES
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.95, "pad": 0.6}
    for node in tree.nodes[1:]:
        x, y = where[node.id]
        score = "-" if node.score is None else f"{node.score:.2f}"
        label = f"{score}  n={node.visits}" if tree.shows_visits else score
        axes.annotate(label, (x, y), xytext=(0, 13), textcoords="offset points", ha="center", va="bottom",
                      fontsize="x-small", fontweight="bold" if node.id in chosen else "normal", bbox=box, zorder=5)
        if texts or node.id in chosen:
            axes.annotate(_snippet(node.text), (x, y), xytext=(0, -13), textcoords="offset points", ha="center",
                          va="top", fontsize="xx-small", family="monospace", bbox=box, zorder=5,
                          color=WRONG if node.id in marks.first_wrong else "0.25")


def _legend_handles(marks: StepMarks) -> list:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=CHOSEN, linewidth=3.0, label="chosen path"),
               Line2D([], [], color="0.6", linestyle=":", label="pruned"),
               Line2D([], [], color="0.35", marker="s", markerfacecolor="none", markersize=10, linestyle="none",
                      label="finished")]
    if marks.checked:
        handles.append(Line2D([], [], color=WRONG, marker="X", markersize=9, linestyle="none",
                              label="first wrong step (task's step checker)"))
    return handles


def _title(tree: SearchTree, marks: StepMarks) -> str:
    graded = "" if tree.correct is None else (", answer correct" if tree.correct else ", answer wrong")
    checked = (f"; {len(marks.first_wrong)} path(s) go wrong first at a checked step" if marks.checked
               else "; steps not checked (the task has no step checker)")
    oracle = " (an upper bound, not a real setting)" if tree.value_source == "oracle" else ""
    return (f"{tree.problem_id}: {tree.strategy} search tree, {len(tree.nodes)} nodes{graded}\n"
            f"scored by {tree.value_source}{oracle}{checked}")


def _html_title(tree: SearchTree, marks: StepMarks) -> str:
    return "<br>".join(html.escape(line) for line in _title(tree, marks).splitlines())


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


# HTML


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.4em; border-left: 1px solid #bbb; }
ul.tree { border-left: none; padding-left: 0; }
li > .node { display: inline-block; margin: 2px 0; padding: 1px 6px; border-radius: 4px; }
.node .score { font-weight: 600; }
.node .meta { color: #666; font-size: 12px; }
.node code { white-space: pre-wrap; background: #f3f3f3; padding: 0 3px; }
.node.chosen { outline: 2.5px solid #000; font-weight: 600; background: #fff6d6; }
.node.first-wrong { background: #fde3d3; }
.node.first-wrong::before { content: "\\2717  first wrong step  "; color: #D55E00; font-weight: 700; }
.node.after-wrong { opacity: 0.55; }
.node.pruned { text-decoration: line-through; color: #888; }
.legend span { margin-right: 1.5em; }
"""


def write_html(tree: SearchTree, marks: StepMarks, path: Path) -> Path:
    """The tree as one self-contained HTML page: nested lists, inline CSS, no scripts."""
    chosen = set(tree.chosen_path())
    body = _html_node(tree, tree.nodes[0].id, chosen, marks, {n.id: n for n in tree.nodes})
    legend = ('<p class="legend"><span class="node chosen">chosen path</span>'
              '<span class="node pruned">pruned</span>'
              + ('<span class="node first-wrong">(the task\'s step checker)</span>'
                 '<span class="node after-wrong">below a wrong step</span>' if marks.checked else "")
              + "</p>")
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(tree.problem_id)} search tree"
            f"</title><style>{STYLE}</style></head><body>\n<h1>{_html_title(tree, marks)}</h1>\n"
            f"{legend}\n<ul class=\"tree\">{body}</ul>\n</body></html>\n")
    path.write_text(page, encoding="utf-8")
    return path


def _html_node(tree: SearchTree, node_id: int, chosen: set[int], marks: StepMarks, index) -> str:
    node = index[node_id]
    classes = ["node"] + [name for name, ids in (("chosen", chosen), ("first-wrong", marks.first_wrong),
                                                   ("after-wrong", marks.after_wrong)) if node_id in ids]
    classes += ["pruned"] * node.pruned + ["finished"] * node.finished
    score = "-" if node.score is None else f"{node.score:.3f}"
    meta = [f"visits {node.visits}"] if tree.shows_visits else []
    meta += [f"value {node.value:.3f}"] if tree.shows_visits and node.value is not None else []
    meta += ["finished"] * node.finished + ["pruned"] * node.pruned
    text = "root" if node.parent is None else f"<code>{html.escape(node.text).replace(NEWLINE, '↵')}</code>"
    children = "".join(_html_node(tree, child, chosen, marks, index) for child in node.children)
    return (f'<li><span class="{" ".join(classes)}" data-id="{node_id}"><span class="score">{score}</span> '
            f'<span class="meta">{" · ".join(meta)}</span> {text}</span>'
            + (f"<ul>{children}</ul>" if children else "") + "</li>")
