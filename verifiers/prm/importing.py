"""`reasoner models import FOLDER`: a local Hugging Face PRM folder of a supported format, given a name.

`import_prm` opens the folder's format (detected, or named: a folder that is none of them is a
`ConfigError` listing the formats), then links the folder into the models directory under the name
(`reasoner.engine.models.link_folder`: links to its files, nothing copied), with a note of its kind and
format, and the step format solutions are split with for it when one is given (`--delimiter`), so that
`--prm NAME` finds it, reads it in that format, and `reasoner models` lists it with its format.

Not here: GGUF policies (`reasoner.engine.models.import_gguf`).
"""

from __future__ import annotations

from pathlib import Path

from reasoner.engine.models import ModelEntry, link_folder
from reasoner.steps import STEP_FORMAT_FILE, StepFormat
from reasoner.verifiers.prm.formats import open_format


def import_prm(folder: str | Path, models_dir: str | Path, name: str | None = None, fmt: str | None = None,
               delimiter: str | None = None) -> ModelEntry:
    """Name the PRM folder `folder` in `models_dir` (default name: the folder's) and return its entry."""
    source = Path(folder).expanduser().resolve()
    adapter = open_format(source, fmt)
    extra = {STEP_FORMAT_FILE: StepFormat(delimiter=delimiter).model_dump_json(indent=2) + "\n"} if delimiter else {}
    return link_folder(source, models_dir, name or source.name.lower(), {"kind": "prm", "format": adapter.name},
                       extra_files=extra)
