# The two commands: `make demo` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: install demo test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The embedded demo: SQLite, Celery eager, LINE simulator, the demo town. Honours PORT,
# DATABASE_URL and every other variable of .env.example from the environment.
# Links sent to residents are absolute (SITE_URL); in the demo they point at this server.
DEMO_ENV = DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)}

demo: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo --port $(PORT) --host $(HOST)
	$(DEMO_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The whole suite, on PostgreSQL and Redis (see tests/env.py for the defaults).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks print their figures; they are never part of `make test`.
bench: install
	@set -e; for script in tests/bench/*.py; do \
	  case "$$script" in */_*) continue;; esac; \
	  echo "== $$script"; $(BIN)/python $$script; \
	done

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles var .pytest_cache .ruff_cache
