# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BOT    := $(VENV)/bin/cchc-bot
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run chat test bench check browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	@$(BOT) content check $${CCHC_CONTENT_DIR:-content} > /dev/null || { $(BOT) content check $${CCHC_CONTENT_DIR:-content}; exit 1; }
	$(BOT) db upgrade
	$(BOT) run

chat: $(STAMP)
	$(BOT) db upgrade
	$(BOT) chat

check: $(STAMP)
	$(BOT) content check

# Browser tests use Debian's chromium (no browser download). Installed when missing and possible.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: browser tests will skip (outside CI)"; \
	  else echo "chromium missing and apt unavailable: browser tests will skip (outside CI)"; fi; }

test: $(STAMP) browser
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) data/*.db build *.egg-info
