# The two commands of the README: `make demo` and `make test`. Both set up the virtual
# environment first (offline but for the package registries; torch comes from this disk).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mmfuse-deps-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
OUT ?= out

.PHONY: setup demo test lint benchmark clean

$(STAMP):  # its name carries the hash of pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.mmfuse-deps-*
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

demo: setup
	$(BIN)/mmfuse run social-media sample_data/social_media -o $(OUT)/social_media --overwrite
	@echo "results: $(OUT)/social_media/results.csv, summary.csv, report.html"
	$(BIN)/mmfuse run screening sample_data/screening/candidates \
		--job sample_data/screening/job.txt -o $(OUT)/screening --overwrite
	@echo "results: $(OUT)/screening/results.csv, summary.csv (assists a human decision only)"
	$(BIN)/mmfuse run wildlife sample_data/wildlife/survey \
		--species sample_data/wildlife/species.txt -o $(OUT)/wildlife --overwrite
	@echo "results: $(OUT)/wildlife/results.csv, events.csv, summary.csv, camtrap-dp/"

test: setup
	$(BIN)/ruff check src tests benchmarks pipelines scripts
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

benchmark: setup
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(OUT) .pytest_cache
