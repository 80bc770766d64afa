# radprm developer entry points. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
VENV := .venv
RADPRM := $(VENV)/bin/radprm
SHARED ?= ../shared
DEMO_DIR ?= runs/demo

.PHONY: setup test demo serve serve-stop train-env bench clean

setup:
	@bash scripts/setup.sh

test: setup
	@bash scripts/test.sh

demo: setup
	@bash scripts/demo.sh

serve:
	@bash serving/serve.sh start

serve-stop:
	@bash serving/serve.sh stop

# Python 3.11 venv with CPU torch + TRL for `radprm train prm` / `radprm eval prm` (~/.cache/radprm/train-venv)
train-env:
	@bash training/build_env.sh

bench: setup
	@$(VENV)/bin/python -m pip install -q -e '.[test,bench]' >/dev/null
	@bash bench/run_all.sh

clean:
	rm -rf runs .pytest_cache
