# The two commands of the README: `make serve` and `make test`.
VENV := .venv
STAMP := $(VENV)/.bootstrapped

.PHONY: serve test setup bench clean ui-screenshots

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

serve: setup
	$(VENV)/bin/cimi-server $(ARGS)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The screenshots docs/ui.md shows, taken by the browser tests.
ui-screenshots: setup
	UI_SCREENSHOTS=docs/ui $(VENV)/bin/python -m pytest tests/ui -q

bench: setup
	$(VENV)/bin/python bench/api.py

clean:
	rm -rf $(VENV) var *.egg-info
