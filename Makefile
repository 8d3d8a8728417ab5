# Switchyard: `make run` and `make test` bootstrap everything from nothing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
SMTP_PORT ?= 2525
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (0: one process). No test collected (pytest exit 5)
# fails the target with a message saying so: a run that checks nothing is not a pass. Each worker has its own test
# database (pytest-django suffixes the name, DB_TEST_NAME included); loadscope keeps a test
# module on one worker, so a module's real servers start once.
TEST_WORKERS ?= 2

.PHONY: run test bootstrap venv migrate demo lint bench clean browser bundle bundle-check fuzz

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

bootstrap: venv
	$(PY) manage.py migrate --noinput -v 0

demo: bootstrap
	$(PY) manage.py load_demo

run: demo
	ALLOW_PRIVATE_OUTBOUND=$${ALLOW_PRIVATE_OUTBOUND:-true} $(PY) manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --smtp-port $(SMTP_PORT)

# The UI tests drive Debian's Chromium through Playwright (Playwright's own download does not work here).
browser:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
	  || (echo "make browser: /usr/bin/chromium is needed for the UI tests (apt-get install chromium)"; exit 1)

test: venv browser
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): nothing was checked"; fi; \
	  exit $$rc

# The builder's front end (frontend/) is built into static/bundle/, which is committed: `make run`
# and `make test` never need Node. After changing frontend/, run `make bundle` and commit the result.
bundle:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

# CI: rebuild from the lockfile and fail if the committed bundle differs.
bundle-check: bundle
	@git diff --exit-code --stat -- static/bundle && test -z "$$(git status --porcelain -- static/bundle)" \
	  || (git status --short -- static/bundle; echo "static/bundle differs from a fresh build of frontend/: run make bundle and commit it"; exit 1)

# Schemathesis over /api/schema/ against a real serve (fresh SQLite): every operation, 30 examples
# each, fixed seed; fails on any 5xx or any answer that does not match the schema.
FUZZ_ARGS ?=
fuzz: venv
	env -u DATABASE_URL -u REDIS_URL $(PY) tools/fuzz_api.py --max-examples 30 --seed 1 $(FUZZ_ARGS)

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: bootstrap
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) var .pytest_cache
