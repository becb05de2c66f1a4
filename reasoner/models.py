"""Where models come from: bundled names, local checkpoint folders, hub ids.

`tiny` and `small` are the models shipped inside the package (see MODEL.md),
and `tiny-prm` the process reward model trained on `tiny`'s samples.
Any other name must be a local Hugging Face folder, or `hub:ORG/NAME` to let
the backend download from a model hub on machines that can reach one.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from pydantic import BaseModel

from reasoner.errors import ModelNotFoundError

BUNDLED_DIR = Path(__file__).parent / "data" / "models"
BUNDLED = ("tiny", "small", "tiny-prm")
PRM_MODELS = ("tiny-prm",)
"""Bundled process reward models (scorers, not policies); see MODEL.md."""
DEFAULT_MODEL = "tiny"
HUB_PREFIX = "hub:"


class ModelEntry(BaseModel):
    """A bundled model as `reasoner models` lists it."""

    name: str
    path: Path
    parameters: int
    available: bool
    kind: str = "policy"
    """`policy` (generates) or `prm` (a process reward model that scores steps)."""


def resolve_model(name: str) -> str:
    """The path (or hub id) a backend should load for `name`."""
    if name.startswith(HUB_PREFIX):
        return name[len(HUB_PREFIX):]
    if name in BUNDLED:
        path = BUNDLED_DIR / name
        if not (path / "config.json").is_file():
            how = "see MODEL.md" if name in PRM_MODELS else f"`reasoner train sft --size {name}`"
            raise ModelNotFoundError(f"bundled model {name!r} is missing from {path}; rebuild it with {how}")
        return str(path)
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        return str(path.resolve())
    if path.exists():
        raise ModelNotFoundError(f"{path} has no config.json, so it is not a Hugging Face model folder")
    raise ModelNotFoundError(
        f"no model folder at {path}; use a bundled model ({', '.join(BUNDLED)}), a local Hugging Face "
        f"folder, or {HUB_PREFIX}ORG/NAME to download from a hub"
    )


FINGERPRINT_BYTES = 1 << 20
"""Bytes read from each end of each weight file: enough to see any update to a small model, and cheap for
a large one (its header and first and last tensors)."""


def weights_fingerprint(name: str) -> str | None:
    """A short digest of a local model's weight files; None for names that are not local folders.

    Resumable outputs record it, so results made by other weights under the same
    name (a retrained bundled model, an overwritten run folder) are never mixed in.
    """
    if name.startswith(HUB_PREFIX):
        return None
    try:
        path = Path(resolve_model(name))
    except ModelNotFoundError:
        return None  # e.g. a model name only an OpenAI-compatible server knows
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    return _fingerprint(tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@functools.lru_cache(maxsize=64)
def _fingerprint(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, size, _ in files:
        digest.update(f"{Path(name).name}:{size}".encode())
        with open(name, "rb") as handle:
            digest.update(handle.read(FINGERPRINT_BYTES))
            if size > FINGERPRINT_BYTES:
                handle.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def bundled_models() -> list[ModelEntry]:
    """The bundled models with their parameter counts."""
    from reasoner.checkpoint import count_parameters

    entries = []
    for name in BUNDLED:
        path = BUNDLED_DIR / name
        available = (path / "config.json").is_file()
        entries.append(ModelEntry(name=name, path=path, available=available,
                                  parameters=count_parameters(path) if available else 0,
                                  kind="prm" if name in PRM_MODELS else "policy"))
    return entries
