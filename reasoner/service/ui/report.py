"""`reasoner report RESULTS.jsonl --html OUT/`: a solve job's console views as a static folder.

Writes `index.html` (accuracy by level with 95% Wilson intervals, cost, ungradable ids, the slowest and most
expensive problems, every problem in a table that `report.js` filters by verdict and level), one page per
problem under `problems/` (candidates with their extracted answers and verdicts, votes and scores, and for
search strategies a link to the tree page `reasoner tree --out` draws), and the console's stylesheet.
Every value from the results file is HTML-escaped; the pages carry the console's Content-Security-Policy
(no inline script), so they open from disk or any static host.

The sweep page (`reasoner report SWEEP/ --html OUT/`) and the compare page (`reasoner report A.jsonl
--compare B.jsonl --html OUT/`) are drawn by the console's own script (`app.js`, copied beside them) from
the data the service's endpoints would give it (a sweep's `summary.json`; the comparison's shape of
`GET /v1/jobs/{a}/compare/{b}` with every shared problem's view for the side-by-side), written as
`data.js` (`window.REPORT = ...`), since a page opened from disk may not fetch a file: one renderer for the
console and the folder, and the model text in it is put into the page as text only.

Not here: the service (these pages need no server), or checking the inputs (`reasoner.cli` reads and checks
them all before anything is written).
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reasoner.service.read_routes import wilson
from reasoner.service.ui import STATIC
from reasoner.service.views import problem_view

REPORT_CSP = ("default-src 'none'; script-src 'self' file:; style-src 'self' file:; img-src data:; "
              "base-uri 'none'; form-action 'none'")
"""The pages' policy: their own script and stylesheet only (from disk or their host), nothing inline."""
SHOWN = 10
"""Problems listed as the slowest and as the most expensive."""
FILTER_SCRIPT = """// Filters the report's problem table by verdict and level (no data leaves the page).
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const verdict = document.getElementById('verdict'), level = document.getElementById('level');
  if (!verdict) return;  // a problem page: nothing to filter
  const rows = [...document.querySelectorAll('#problems tbody tr')], count = document.getElementById('count');
  const apply = () => {
    let shown = 0;
    for (const row of rows) {
      const ok = (verdict.value === 'all' || row.dataset.verdict === verdict.value) &&
        (level.value === '' || row.dataset.level === level.value);
      row.hidden = !ok;
      shown += ok;
    }
    count.textContent = shown + ' of ' + rows.length + ' problems';
  };
  verdict.addEventListener('change', apply);
  level.addEventListener('change', apply);
  apply();
});
"""


def e(value: Any) -> str:
    return html.escape("–" if value is None else str(value))


def write_report(records: Iterable[dict[str, Any]], out: Path, verifiers, title: str) -> Path:
    """Write the folder; returns its index page. `records` are read once; per-problem pages as they come."""
    (out / "problems").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STATIC / "app.css", out / "app.css")
    (out / "report.js").write_text(FILTER_SCRIPT, encoding="utf-8")
    rows = []
    for number, record in enumerate(records):
        name = f"{number:06d}.html"
        view = problem_view({**record, "prompt": record.get("prompt")}, verifiers)
        tree = _tree_page(record, out / "problems" / f"{number:06d}-tree.html")
        _page(out / "problems" / name, f"Problem {view['problem_id']}", _problem_body(view, tree), depth=1)
        rows.append(_row(record, f"problems/{name}"))
    _page(out / "index.html", title, _index_body(title, rows), depth=0)
    return out / "index.html"


def _row(record: dict[str, Any], link: str) -> dict[str, Any]:
    cost = record.get("cost") or {}
    verdict = "ungradable" if record.get("score") is None else "right" if record.get("correct") else "wrong"
    return {"id": record.get("problem_id"), "level": record.get("level"), "verdict": verdict,
            "status": record.get("status"), "answer": record.get("answer"), "reference": record.get("reference"),
            "tokens": cost.get("generated_tokens", 0), "wall": cost.get("wall_seconds", 0.0),
            "cost": cost, "link": link, "candidates": len(record.get("candidates") or [])}


def _page(path: Path, title: str, body: str, depth: int) -> None:
    up = "../" * depth
    path.write_text(
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
        f'<link rel="icon" href="data:,"><link rel="stylesheet" href="{up}app.css">'
        f'<script src="{up}report.js" defer></script></head>'
        f'<body><header class="top"><a class="brand" href="{up}index.html">reasoner report</a></header>'
        f'<main>{body}</main></body></html>\n', encoding="utf-8")


def _index_body(title: str, rows: list[dict[str, Any]]) -> str:
    levels = sorted({r["level"] for r in rows if r["level"] is not None})
    blocks = [(f"level {level}", [r for r in rows if r["level"] == level]) for level in levels] + [("all", rows)]
    total = {key: sum(r["cost"].get(key, 0) or 0 for r in rows) for key in
             ("prompt_tokens", "cached_prompt_tokens", "generated_tokens", "prm_tokens", "flops", "wall_seconds")}
    ungradable = [r["id"] for r in rows if r["verdict"] == "ungradable"]
    slow = sorted(rows, key=lambda r: -r["wall"])[:SHOWN]
    costly = sorted(rows, key=lambda r: -r["tokens"])[:SHOWN]
    options = "".join(f'<option value="{e(level)}">level {e(level)}</option>' for level in levels)
    return (f"<h1>{e(title)}</h1><h2>Accuracy by level</h2>{_accuracy(blocks)}<h2>Cost</h2><dl class=\"kv\">"
            + "".join(f"<dt>{e(key.replace('_', ' '))}</dt><dd>{e(_num(value))}</dd>" for key, value in total.items())
            + f"</dl><h2>Ungradable problems</h2><p>{e(', '.join(map(str, ungradable)) or 'none')}</p>"
            f'<div class="side"><div><h2>Slowest problems</h2>{_mini(slow, "wall", "wall s")}</div>'
            f'<div><h2>Most expensive problems</h2>{_mini(costly, "tokens", "tokens")}</div></div>'
            f'<h2>Problems</h2><div class="row"><select id="verdict" aria-label="verdict">'
            + "".join(f'<option value="{v}">{v}</option>' for v in ("all", "right", "wrong", "ungradable"))
            + f'</select><select id="level" aria-label="level"><option value="">every level</option>{options}</select>'
            f'<span id="count" class="muted" role="status"></span></div>{_problems(rows)}')


def _accuracy(blocks: list[tuple[str, list[dict[str, Any]]]]) -> str:
    lines = []
    for name, rows in blocks:
        correct = sum(r["verdict"] == "right" for r in rows)
        low, high = wilson(correct, len(rows))
        accuracy = correct / len(rows) if rows else 0.0
        lines.append(f"<tr><td>{e(name)}</td><td class=\"num\">{len(rows)}</td><td class=\"num\">{correct}</td>"
                     f"<td class=\"num\">{sum(r['verdict'] == 'ungradable' for r in rows)}</td>"
                     f"<td class=\"num\">{accuracy:.1%}</td><td class=\"num\">{low:.1%} – {high:.1%}</td></tr>")
    return ('<table id="accuracy"><thead><tr><th>Level</th><th class="num">Problems</th><th class="num">Correct</th>'
            '<th class="num">Ungradable</th><th class="num">Accuracy</th><th class="num">95% interval (Wilson)</th>'
            f'</tr></thead><tbody>{"".join(lines)}</tbody></table>')


def _mini(rows: list[dict[str, Any]], field: str, label: str) -> str:
    body = "".join(f'<tr><td><a href="{r["link"]}">{e(r["id"])}</a></td><td class="num">{e(_num(r[field]))}</td>'
                   f'<td>{e(r["status"])}</td></tr>' for r in rows)
    return f'<table><thead><tr><th>Problem</th><th class="num">{label}</th><th>Verdict</th></tr></thead><tbody>{body}</tbody></table>'


def _problems(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f'<tr data-verdict="{r["verdict"]}" data-level="{e(r["level"]) if r["level"] is not None else ""}">'
        f'<td><a href="{r["link"]}">{e(r["id"])}</a></td><td>{e(r["level"])}</td><td>{e(r["status"])}</td>'
        f'<td>{e(r["answer"])}</td><td>{e(r["reference"])}</td><td class="num">{r["candidates"]}</td>'
        f'<td class="num">{e(_num(r["tokens"]))}</td><td class="num">{e(_num(r["wall"]))}</td></tr>' for r in rows)
    return ('<table id="problems"><thead><tr><th>Problem</th><th>Level</th><th>Verdict</th><th>Answer</th>'
            '<th>Reference</th><th class="num">Candidates</th><th class="num">Tokens</th><th class="num">Wall s</th>'
            f'</tr></thead><tbody>{body}</tbody></table>')


def _problem_body(view: dict[str, Any], tree: str | None) -> str:
    cards = "".join(
        f'<div class="card candidate{" chosen" if i == view["chosen"] else ""}"><h3>#{i}'
        f'{" <span class=badge>chosen</span>" if i == view["chosen"] else ""} <span class="badge">{e(c["verdict"])}</span>'
        f' <span class="muted">answer: {e(c["extracted"])}</span> <span class="muted">{e(c.get("num_tokens"))} tokens,'
        f' {e(c.get("finish_reason"))}</span></h3><div class="text">{e(c.get("text"))}</div></div>'
        for i, c in enumerate(view["candidates"]))
    votes = "".join(f"<h2>{e(event['kind'].capitalize())}</h2><pre>{e(_json(event['data']))}</pre>"
                    for event in view["trace"] if event.get("kind") in ("vote", "score"))
    facts = {"verdict": view["status"], "answer": view["answer"], "reference": view["reference"],
             "strategy": view["strategy"], "level": view["level"], "stopped": view["stop_reason"],
             "cost": _json(view["cost"])}
    tree_link = (f'<h2>Search tree</h2><p><a href="{e(tree)}">the search tree</a> (chosen path, step scores, '
                 f'visits, first wrong step)</p>') if tree else ""
    return (f'<h1>Problem {e(view["problem_id"])}</h1><p><a href="../index.html">← the job</a></p><dl class="kv">'
            + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts.items()) + "</dl>"
            + (f'<p class="error">{e(view["error"])}</p>' if view.get("error") else "")
            + f'<h2>Prompt</h2><pre class="prompt">{e(view["prompt"] or "(not in the results file)")}</pre>'
            + votes + tree_link + f'<h2>Candidates ({len(view["candidates"])})</h2><div class="cards" id="candidates">'
            + cards + "</div>")


def _tree_page(record: dict[str, Any], path: Path) -> str | None:
    """Draw the record's search tree with `reasoner tree`'s HTML writer; the page's name, or None."""
    from reasoner.eval.tree import SearchTree, mark_steps, step_checker_for
    from reasoner.eval.tree_draw import write_html

    events = [ev for ev in record.get("trace") or [] if isinstance(ev, dict) and ev.get("kind") == "tree"]
    if not events:
        return None
    tree = SearchTree(problem_id=str(record["problem_id"]), strategy=str(record.get("strategy")), **events[-1]["data"])
    write_html(tree, mark_steps(tree, step_checker_for(str(record["problem_id"]))), path)
    return path.name


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e6 or value == 0 else f"{value:.2f}"
    return str(value)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=1, default=str)


def write_console_page(out: Path, title: str, report: dict[str, Any]) -> Path:
    """`out/index.html` drawn by the console's script from `report` ({"page": "sweep"|"compare", ...})."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("app.css", "app.js"):
        shutil.copyfile(STATIC / name, out / name)
    data = json.dumps(report, default=str, ensure_ascii=True)  # ASCII: U+2028 and friends cannot end a line
    (out / "data.js").write_text(f"// {e(title)}: the page's data (reasoner report)\nwindow.REPORT = {data};\n",
                                 encoding="utf-8")
    (out / "index.html").write_text(
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
        f'<link rel="icon" href="data:,"><link rel="stylesheet" href="app.css">'
        f'<script src="data.js" defer></script><script src="app.js" defer></script></head>'
        f'<body><header class="top"><span class="brand">reasoner report</span></header>'
        f'<main id="main" tabindex="-1"><p class="muted">Loading…</p></main></body></html>\n', encoding="utf-8")
    return out / "index.html"


def comparison(first: list[dict[str, Any]], second: list[dict[str, Any]], names: tuple[str, str],
               verifiers) -> dict[str, Any]:
    """Two result files on the same problems in the shape of the service's comparison, with every problem's
    view (candidates graded) for the side-by-side. The caller has checked that the problems are the same."""
    by_id = {str(r["problem_id"]): r for r in second}
    rows, levels, views = [], {}, {}
    for a in first:
        pid = str(a["problem_id"])
        b = by_id[pid]
        rows.append({"problem_id": pid, "level": a.get("level"), "reference": a.get("reference"),
                     "a": _side(a), "b": _side(b)})
        block = levels.setdefault(a.get("level"), {"level": a.get("level"), "problems": 0, "both": 0,
                                                   "only_a": 0, "only_b": 0})
        right = (bool(a.get("correct")), bool(b.get("correct")))
        block["problems"] += 1
        if any(right):
            block["both" if all(right) else "only_a" if right[0] else "only_b"] += 1
        views[pid] = [problem_view(a, verifiers), problem_view(b, verifiers)]
    return {"page": "compare", "a": _job(names[0], first), "b": _job(names[1], second), "rows": rows,
            "by_level": sorted(levels.values(), key=lambda b: (b["level"] is None, str(b["level"]))),
            "problems": views}


def _side(record: dict[str, Any]) -> dict[str, Any]:
    return {"correct": bool(record.get("correct")), "answer": record.get("answer"),
            "generated_tokens": (record.get("cost") or {}).get("generated_tokens")}


def _job(name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    strategies = sorted({str(r.get("strategy")) for r in records})
    return {"id": name, "status": f"{len(records)} records", "config": {"strategy": ", ".join(strategies),
                                                                      "strategy_options": {}}}
