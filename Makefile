# Two commands for a new user:  `make demo`  and  `make test`.
VENV := .venv
BIN := $(VENV)/bin
OUT := out
POLICIES := $(wildcard policies/*.policy)
VSCODE := editors/vscode

.PHONY: demo test install bench diagrams tables clean vsix textmate

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
	$(BIN)/policydsl simulate policies/shenzhen_consulting_diagnosis.policy --population policies/samples/shenzhen_consulting_diagnosis_population.csv --date 2023-03-01 --format html -o $(OUT)/simulate.html
	@echo "compiled evaluators and diagrams are in $(OUT)/, the review site in $(OUT)/site/index.html"

# The whole test suite (what CI runs): lint, strict types, then pytest; the review-site tests open the
# pages in headless Chromium, the Spark tests start Java, the editor tests run node (scripts/install.sh
# installs them), and they fail rather than skip without them.
test: $(VENV)/.installed $(VSCODE)/node_modules/.installed
	$(BIN)/ruff check policydsl tests benchmarks
	$(BIN)/ruff format --check policydsl
	$(BIN)/mypy
	POLICYDSL_BROWSER=required POLICYDSL_NODE=required POLICYDSL_SPARK=required $(BIN)/python -m pytest

# Redraw the overview diagrams that docs/policies.md shows.
diagrams: $(VENV)/.installed
	for p in $(POLICIES); do $(BIN)/policydsl diagram $$p -o docs/diagrams/$$(basename $$p .policy).svg || exit 1; done

# The VS Code extension (docs/editors.md): its npm tools installed from package-lock.json, then
# packaged into editors/vscode/policydsl.vsix.  `make test` runs the grammar's tests and builds it too.
$(VSCODE)/node_modules/.installed: $(VSCODE)/package.json $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund
	touch $@

vsix: $(VSCODE)/node_modules/.installed
	cd $(VSCODE) && npm run package

# Rewrite the TextMate grammar after changing the keyword table (a test fails while it is out of date).
textmate: $(VENV)/.installed
	$(BIN)/python scripts/textmate.py

# Rebuild the parser tables shipped in the package after changing grammar/policy.lark
# (a test fails while they are out of date).
tables: $(VENV)/.installed
	$(BIN)/python scripts/build_tables.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/eval_bench.py
	$(BIN)/python benchmarks/check_bench.py

clean:
	rm -rf $(OUT) $(VENV)
