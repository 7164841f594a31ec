# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LINT_DIR := tools/cypher-lint
AUDIT_DIR := tools/http-audit
PYTEST_ARGS ?=

.PHONY: run test setup lint typecheck unit format clean prometheus-installed pdf-installed \
	chromium-installed

run: setup
	$(BIN)/hub serve --demo

test: setup lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed $(LINT_DIR)/node_modules/.installed $(AUDIT_DIR)/node_modules/.installed prometheus-installed \
	pdf-installed chromium-installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Neo4j's own Cypher parser, used by tests/graph/test_cypher_dialect.py.
$(LINT_DIR)/node_modules/.installed: $(LINT_DIR)/package-lock.json
	cd $(LINT_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# graphql-http's GraphQL-over-HTTP audit suite, used by tests/test_graphql_over_http.py.
$(AUDIT_DIR)/node_modules/.installed: $(AUDIT_DIR)/package-lock.json
	cd $(AUDIT_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's prometheus package (promtool and prometheus), used by tests/prometheus_server.py.
# sudo only when not root: CI runs as root, with no stdin.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
prometheus-installed:
	command -v promtool >/dev/null && command -v prometheus >/dev/null || \
	  ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	   apt-get install -y --no-install-recommends prometheus)

# Report PDFs (hub/reports/pdf.py): WeasyPrint's Pango and the DejaVu fonts; poppler's
# pdftoppm and pdftotext, with which tests/reports/ read the PDFs back.
pdf-installed:
	command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null && \
	  test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf && \
	  ldconfig -p | grep -q libpango-1.0 && ldconfig -p | grep -q libharfbuzz-subset || \
	  ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	   apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
	   libharfbuzz-subset0 fonts-dejavu-core poppler-utils)

# Debian's chromium, driven by Playwright in tests/portal/ (Playwright's own browser
# download is not used: the tests launch /usr/bin/chromium).
chromium-installed:
	command -v chromium >/dev/null || \
	  ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	   apt-get install -y --no-install-recommends chromium)

lint: setup
	$(BIN)/ruff check hub tests benchmarks
	$(BIN)/ruff format --check hub tests benchmarks

typecheck: setup
	$(BIN)/mypy hub

format: setup
	$(BIN)/ruff format hub tests benchmarks
	$(BIN)/ruff check --fix hub tests benchmarks

clean:
	rm -rf $(VENV) $(LINT_DIR)/node_modules $(AUDIT_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache
