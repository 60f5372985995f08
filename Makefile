# llmbench — the two commands: `make demo` (the main job) and `make test` (all tests).
SHELL := /bin/bash
PYTHON ?= python3
# Use the active virtual environment if there is one; otherwise .venv, created on demand.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.llmbench-installed
# torch: where no NVIDIA GPU is present, the CPU build 2.13.0 (on a CPU-only Linux machine elsewhere, add
# TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" to avoid the multi-GB CUDA wheel);
# with a GPU, the newest torch that fits the platform. An installed torch is kept as it is.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: install browser demo test lab export clean-nbs readme bench-data bench-train check

install: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x "$(PY)" ] || $(PYTHON) -m venv "$(VENV)"
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (llmbench)" >/dev/null
	@touch $(STAMP)

demo: install
	$(BIN)/llmbench run --preset demo

# Chromium for the browser tests (tests/test_browser.py, Playwright drives it): kept if one is found (or named by
# LLMBENCH_CHROMIUM), else Debian's/Ubuntu's `chromium` package when root or password-less sudo can install it.
# Never fails: without Chromium the browser tests skip and say why.
CHROMIUM_NAMES := chromium chromium-browser google-chrome google-chrome-stable chrome
APT_CHROMIUM = env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
browser:
	@found=$$(for n in $(CHROMIUM_NAMES); do command -v $$n 2>/dev/null && break; done); \
	skip="the browser tests skip until then (or set LLMBENCH_CHROMIUM=/path/to/chromium)"; \
	if [ -n "$$LLMBENCH_CHROMIUM" ] || [ -n "$$found" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make browser: no Chromium and no apt-get: install Chromium; $$skip"; \
	elif [ "$$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then \
	  echo "make browser: no Chromium; run 'sudo apt-get install -y chromium'; $$skip"; \
	else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); echo "make browser: installing Debian's chromium with apt-get"; \
	  $$SUDO $(APT_CHROMIUM) || { $$SUDO apt-get update -q >/dev/null && $$SUDO $(APT_CHROMIUM); } \
	  || echo "make browser: apt-get could not install chromium; $$skip"; \
	fi

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

lab: install
	$(BIN)/jupyter lab --notebook-dir=nbs

export: install
	$(BIN)/nbdev-export

clean-nbs: install
	$(BIN)/nbdev-clean

readme: install
	$(BIN)/jupyter nbconvert --to markdown --log-level WARN nbs/index.ipynb --output-dir . --output README

bench-data: install
	$(BIN)/llmbench bench data

bench-train: install
	$(BIN)/llmbench bench train
