# Two commands: `make run` (one ingestion of the configured sources) and `make test`.
# Also: `make sql` (the DuckDB command line on the warehouse), `make maintain`, `make upgrade`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: install run test serve stop sql maintain upgrade eval bench bench-search soak clean digest search export

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or run: make PY=python3 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m flows.ingest $(ARGS)

digest: $(STAMP)
	$(BIN)/python -m flows.digest $(ARGS)

export: $(STAMP)
	$(BIN)/python -m flows.export $(ARGS)

# exit 141: whatever read the hits stopped early (| head), which is no failure of the search
search: $(STAMP)
	@test -n "$$Q" || { echo 'usage: make search Q="words to find" [ARGS="--since 2026-01-01 --issue NAME --limit N"]'; exit 2; }
	$(BIN)/python -m flows.search "$$Q" $(ARGS) || { code=$$?; test $$code -eq 141 || exit $$code; }

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(STAMP)
	./scripts/serve.sh $(ARGS)

stop:
	./scripts/stop.sh

sql: $(STAMP)
	@$(BIN)/python -m warehouse.shell $(ARGS)

maintain: $(STAMP)
	$(BIN)/python -m flows.maintain $(ARGS)

upgrade: $(STAMP)
	$(BIN)/python -m warehouse.upgrade $(ARGS)

eval: $(STAMP)
	$(BIN)/python -m bench.eval $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.bench $(ARGS)

bench-search: $(STAMP)
	$(BIN)/python -m bench.search $(ARGS)

soak: $(STAMP)
	$(BIN)/python -m bench.soak $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
