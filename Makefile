# The two commands of the README: `make serve` and `make test`.
VENV := .venv
STAMP := $(VENV)/.bootstrapped

.PHONY: serve test setup bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

serve: setup
	$(VENV)/bin/cimi-server $(ARGS)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python bench/api.py

clean:
	rm -rf $(VENV) var *.egg-info
