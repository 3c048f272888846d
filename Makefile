# sip-policy: `make demo` sets everything up and runs the sample; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all setup demo test lint unit bench bench-1m fuzz schema catalogue run-agent clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	@echo "== sip-policy check rules.yaml"
	@$(BIN)/sip-policy check rules.yaml
	@echo
	@echo "== sip-policy test (the cases in rules.tests.yaml)"
	@$(BIN)/sip-policy test rules.yaml
	@echo
	@echo "== sip-policy explain: a caller from Madrid dials the Spanish line on a Tuesday at 10:00"
	@$(BIN)/sip-policy explain rules.yaml --at 2026-12-22T10:00 --attr sip.phoneNumber=+34911234567 --attr sip.trunkPhoneNumber=+15105550123 --attr sip.ruleID=SDR_xkVKoqTfPE4Q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture policy agent_entry.py vulture_whitelist.py --min-confidence 60

unit: $(STAMP)
	$(BIN)/python -m pytest

schema: $(STAMP)
	$(BIN)/sip-policy schema > docs/rules.schema.json

# the model names and session options of the installed livekit-agents, as data for `check`
catalogue: $(STAMP)
	$(BIN)/python -m policy.livekit.catalogue
	$(BIN)/sip-policy schema > docs/rules.schema.json

test: lint unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/logs_bench.py
	$(BIN)/python benchmarks/setup_bench.py
	$(BIN)/python benchmarks/adapter_bench.py
	$(BIN)/python benchmarks/pss.py --mode own
	$(BIN)/python benchmarks/pss.py --mode shared
	bash benchmarks/instructions.sh project 1000
	bash benchmarks/instructions.sh realistic 1000

# 1,000,000 rules, both mixes (table form; the YAML form is over the 32 MiB limit): ~30 min
bench-1m: $(STAMP)
	$(BIN)/python benchmarks/bench.py --sizes 1000000 --quick

fuzz: $(STAMP)
	SIP_POLICY_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest tests/hostile -k fuzz -q

run-agent: $(STAMP)
	$(BIN)/python -m livekit.agents start agent_entry.py --dev

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
