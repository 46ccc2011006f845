# medtap: two commands set everything up on a fresh Debian machine with Python 3.11.
#   make run   - install medtap in .venv, replay the demo captures into SQLite, print inventory + findings
#   make test  - install medtap with its test extras (+ tshark/chromium when root), run the whole suite
#   make accuracy - precision and recall per rule on every demo hospital (and the real captures)
#   make bench - the 1M-frame benchmark (not part of the test suite)
#   make fuzz  - longer fuzzing of the frame decoder and every detector

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= sqlite:///medtap.db
DEMO   := $(sort $(wildcard pcaps/demo/*.pcap))

.PHONY: run test bench fuzz samples accuracy system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	rm -f medtap.db
	mkdir -p out
	$(BIN)/medtap replay $(DEMO) --site pcaps/demo/site.yaml --sheets pcaps/demo/sheets.csv \
	  --db $(DB) --report out/demo-report.json --quiet
	$(BIN)/medtap inventory --db $(DB)
	$(BIN)/medtap findings --db $(DB)
	@echo "Report: out/demo-report.json. Web UI: $(BIN)/medtap token create --role admin --db $(DB), then $(BIN)/medtap serve --db $(DB)  (http://127.0.0.1:8000)"

# Test-only system tools: tshark (Wireshark cross-checks), chromium (UI tests), tcpreplay, iproute2 (live capture).
system-deps:
	@missing=""; \
	for pair in tshark:tshark chromium:chromium chromedriver:chromium-driver tcpreplay:tcpreplay ip:iproute2 ndpiReader:libndpi-bin; do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0' || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing test tools:$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing test tools:$$missing (their tests skip outside CI)"; fi; \
	fi

# two workers (pytest-xdist): the suite runs on both cores of the build machine, under 3 minutes (README);
# then the load test alone: it measures ingest-to-visible delays, which a busy neighbour would distort
# PYTHONDONTWRITEBYTECODE= : some machines set it; without byte-code caches every test worker and every medtap
# subprocess a test starts compiles medtap, its dependencies and the rewritten test modules again (~9 s a worker)
test: $(VENV)/.test-installed system-deps
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2 --dist loadgroup -m "not load"
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -m load

samples: $(VENV)/.test-installed
	$(BIN)/python pcaps/make_samples.py

# per rule precision/recall on every demo hospital (pcaps/demo, pcaps/demo2, pcaps/demo3), then the real captures if that
# module exists; the tables are printed even when a rule is below 0.95 (exit status 1 then)
accuracy: $(VENV)/.test-installed
	$(BIN)/python -m tests.accuracy.hospitals; status=$$?; \
	if [ -f tests/accuracy/real_captures.py ]; then $(BIN)/python -m tests.accuracy.real_captures || status=1; fi; \
	exit $$status

bench: $(VENV)/.test-installed system-deps
	$(BIN)/python tests/bench/run_bench.py --best-of 3 --with-5m

fuzz: $(VENV)/.test-installed
	MEDTAP_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest -q -p no:cacheprovider tests -k fuzz

clean:
	rm -rf $(VENV) out medtap.db build medtap.egg-info tests/artifacts .pytest_cache .hypothesis .mypy_cache .ruff_cache
