PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format screenshots bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	NEWSLETTER_DEV=true $(BIN)/newsletter db upgrade
	NEWSLETTER_DEV=true $(BIN)/newsletter demo
	NEWSLETTER_DEV=true $(BIN)/newsletter serve --host 127.0.0.1 --port 8000

test: $(STAMP) tests/.axe
	$(BIN)/pytest $(PYTEST_ARGS)

tests/.axe:
	mkdir -p tests/.axe
	cd tests/.axe && npm install --silent --no-audit --no-fund axe-core@4 >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

screenshots: $(STAMP)
	$(BIN)/python -m bench.screenshots
	$(BIN)/python -m bench.staff_screenshots

clean:
	rm -rf $(VENV) var tests/.axe
