# langadapt — the two commands a new user needs: `make quickstart` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup quickstart test bench lint clean models llama-server

# Creates or updates .venv; a no-op when pyproject.toml has not changed.
setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch==2.13.0 only where no torch is installed, so an existing (e.g. CUDA) build is kept.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

quickstart: setup
	$(BIN)/langadapt run recipes/quickstart.yaml

# Real pretrained GGUF checkpoints into LANGADAPT_MODELS (default ~/.cache/langadapt/models);
# a no-op for files already there with the right SHA-256. Tests that need them skip without them.
models: setup
	$(BIN)/langadapt model fetch all

# A real llama.cpp server (llama-cpp-python, built from source: ~20 min on 2 cores) for the
# tests/synth/test_llama_cpp_server.py end-to-end test, which skips without it. Portable
# x86-64 flags: a native build can use CPU features the kernel of a VM does not enable
# (AMX, AVX-512) and crash on the first token.
llama-server: setup
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	  -DLLAVA_BUILD=OFF" $(BIN)/python -m pip install "llama-cpp-python[server]==0.3.36"

# The tests in parallel workers (pytest-xdist), one per core up to 4; a test module stays on one
# worker (--dist loadscope), so its module-scoped fixtures are built once. TEST_WORKERS=0 runs
# them in this process.
TEST_WORKERS ?= $(shell $(PY) -c "import os; print(min(4, len(os.sched_getaffinity(0))))" 2>/dev/null || echo 2)
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --durations=30

bench: setup
	@for f in benchmarks/*.py; do echo "# $$f"; $(BIN)/python $$f || exit 1; done

lint: setup
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf runs/ build/ *.egg-info
