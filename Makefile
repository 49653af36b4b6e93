# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# `make run PORT=8080` serves on another port.
PORT ?= 8000

.PHONY: run test bench lint setup demo clean

setup: $(VENV)/.installed static/vendor/htmx.min.js

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

static/vendor/htmx.min.js: scripts/fetch-htmx.sh
	scripts/fetch-htmx.sh

run: setup
	scripts/system-deps.sh run
	$(BIN)/aefi serve --demo --port $(PORT)

test: setup
	scripts/system-deps.sh test
	$(BIN)/pytest -p no:cacheprovider

bench: setup
	scripts/system-deps.sh run
	$(PY) -m bench

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) static/vendor var
