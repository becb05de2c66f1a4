"""`reasoner verify prm`: one solution's steps with a PRM's score of each, to see that a PRM loaded right.

The solution is split by the PRM's step format (or the delimiter given), joined the way the PRM's
format reads it, and scored by the runner the settings choose; the report names the format and runner
that were used, so a misdetected format shows at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reasoner.verifiers.prm import PRMSettings, open_prm


async def score_steps(name: str, settings: PRMSettings, prompt: str, solution: str,
                      delimiter: str | None = None) -> dict[str, Any]:
    """Each step of `solution` with its score (None for a step past the PRM's context), and how it was read."""
    prm = await asyncio.to_thread(open_prm, name, settings, delimiter)
    scored = await prm.ascore([(prompt, solution)])
    scores = scored.steps[0]
    steps = [{"step": number, "text": step.text,
              "score": scores[number - 1] if number <= len(scores) else None}
             for number, step in enumerate(prm.step_format.split(solution), 1)]
    runner = "server " + settings.url if settings.url else settings.runner
    return {"prm": name, "folder": str(prm.folder), "format": prm.reading.format.name, "runner": runner,
            "delimiter": prm.step_format.delimiter, "steps": steps, "tokens": scored.tokens,
            "cached_tokens": scored.cached_tokens}
