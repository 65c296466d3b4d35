# Two commands a newcomer needs: `make demo` and `make test`. Both build the environment first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cloudzarr-installed

.PHONY: demo test lint typecheck docs bench env clean

$(STAMP): pyproject.toml package.json package-lock.json scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cloudzarr demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check cloudzarr moto_fixtures tests benchmarks
	$(VENV)/bin/ruff format --check cloudzarr moto_fixtures tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) node_modules site
