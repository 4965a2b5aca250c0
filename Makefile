PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
CHROMIUM := /usr/bin/chromium
# uv installs exactly what uv.lock pins; it is itself installed from PyPI into .uv/.
UV_VERSION := 0.13.9
UV := .uv/bin/uv
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --python $(PY)

.PHONY: run test test-smoke lint format lock screenshots bench bytecode mutate clean check-chromium

$(UV):
	python3 -m venv .uv
	.uv/bin/pip install -q uv==$(UV_VERSION)

# Bytecode is compiled at install, as in the image (UV_COMPILE_BYTECODE): with
# PYTHONDONTWRITEBYTECODE set (as on CI), every `newsletter` process a test or bench starts
# would otherwise compile its imports again, about 1.3 s of CPU each.
$(STAMP): pyproject.toml uv.lock | $(UV)
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11, 3.12 or 3.13)"; exit 1; }
	$(SYNC) --extra dev --compile-bytecode
	touch $(STAMP)

# The app's own modules, compiled before tests and benches start processes (see above).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q app bench >/dev/null

lock: $(UV)
	$(UV) lock

run: $(STAMP)
	mkdir -p var
	NEWSLETTER_DEV=true $(BIN)/newsletter db upgrade
	NEWSLETTER_DEV=true NEWSLETTER_BASE_URL=http://127.0.0.1:$(PORT) $(BIN)/newsletter demo
	NEWSLETTER_DEV=true NEWSLETTER_BASE_URL=http://127.0.0.1:$(PORT) \
		$(BIN)/newsletter serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP) bytecode tests/.axe check-chromium
	$(BIN)/pytest $(PYTEST_ARGS)

# The mutation sweep: each listed rule broken in turn, its tests must notice (tools/mutate.py).
mutate: $(STAMP) bytecode
	$(BIN)/python tools/mutate.py tools/mutations/*.toml

# The suite without the browser tests, for a second Python version (CI runs it on 3.12, 3.13).
test-smoke: $(STAMP) bytecode
	$(BIN)/pytest -m "not browser and not slow" $(PYTEST_ARGS)

check-chromium:
	@test -x $(CHROMIUM) || { \
	  echo "The browser tests need Chromium at $(CHROMIUM)."; \
	  echo "  Debian/Ubuntu: apt-get install chromium"; \
	  echo "  or run the rest: make test-smoke"; \
	  exit 1; }

# Installed into a scratch folder and moved into place, so a failed npm run leaves no
# half-made tests/.axe behind.
tests/.axe:
	rm -rf tests/.axe.partial && mkdir -p tests/.axe.partial
	cd tests/.axe.partial && npm install --silent --no-audit --no-fund axe-core@4 >/dev/null \
	  || { rm -rf tests/.axe.partial; echo "npm could not install axe-core (needed by the browser tests)"; exit 1; }
	mv tests/.axe.partial tests/.axe

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
	rm -rf $(VENV) .venv-* .uv var tests/.axe tests/.axe.partial
