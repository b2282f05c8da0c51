# Two commands for a new user:  `make demo`  and  `make test`.
VENV := .venv
BIN := $(VENV)/bin
OUT := out
POLICIES := $(wildcard policies/*.policy)

.PHONY: demo test install bench diagrams tables clean

$(VENV)/.installed: pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $@

install: $(VENV)/.installed

# Check, compile, draw and evaluate the bundled seed policies.
demo: $(VENV)/.installed
	$(BIN)/policydsl check $(POLICIES)
	$(BIN)/policydsl test $(POLICIES)
	mkdir -p $(OUT)
	for p in $(POLICIES); do \
	  n=$$(basename $$p .policy); \
	  $(BIN)/policydsl compile $$p -o $(OUT)/$$n.py || exit 1; \
	  $(BIN)/policydsl diagram $$p -o $(OUT)/$$n.svg || exit 1; \
	done
	$(BIN)/policydsl eval policies/jiangmen_special_fund.policy --facts policies/samples/jiangmen_special_fund.json --date 2022-06-01 --explain
	$(BIN)/policydsl report $(POLICIES) -o $(OUT)/site
	@echo "compiled evaluators and diagrams are in $(OUT)/, the review site in $(OUT)/site/index.html"

# The whole test suite (what CI runs): lint, strict types, then pytest; the review-site tests open the
# pages in headless Chromium, the Spark tests start Java (scripts/install.sh installs both), and they
# fail rather than skip without them.
test: $(VENV)/.installed
	$(BIN)/ruff check policydsl tests benchmarks
	$(BIN)/ruff format --check policydsl
	$(BIN)/mypy
	POLICYDSL_BROWSER=required POLICYDSL_SPARK=required $(BIN)/python -m pytest

# Redraw the overview diagrams that docs/policies.md shows.
diagrams: $(VENV)/.installed
	for p in $(POLICIES); do $(BIN)/policydsl diagram $$p -o docs/diagrams/$$(basename $$p .policy).svg || exit 1; done

# Rebuild the parser tables shipped in the package after changing grammar/policy.lark
# (a test fails while they are out of date).
tables: $(VENV)/.installed
	$(BIN)/python scripts/build_tables.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/eval_bench.py
	$(BIN)/python benchmarks/check_bench.py

clean:
	rm -rf $(OUT) $(VENV)
