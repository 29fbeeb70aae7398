# Parley: `make run` opens the app, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint bench package system-deps clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,package]'
	@rm -f $(VENV)/.installed-*; touch $@

# Bytecode written first, as an installed app has it (quick when up to date): with
# PYTHONDONTWRITEBYTECODE set, a checkout would otherwise compile its sources on every start.
run: system-deps $(STAMP)
	@$(BIN)/python -m compileall -q desktop >/dev/null
	$(BIN)/parley

lint: $(STAMP)
	$(BIN)/ruff check desktop tests benchmarks
	$(BIN)/ruff format --check desktop tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# System packages first (Qt's libraries, Xvfb, gnome-keyring; quick when present), then lint,
# then the suite on a throwaway unlocked Secret Service so the keyring tests run for real.
test: system-deps lint
	@if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then \
		QT_QPA_PLATFORM=offscreen scripts/with-keyring.sh $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
		QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

system-deps:
	@scripts/system-deps.sh

package: $(STAMP)
	scripts/package.sh

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
