# The two commands of the README: `make demo` and `make test`. Both set up the virtual
# environment first (offline but for the package registries; torch comes from this disk).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
PIP := pip==26.3
PIP_TOOLS := pip-tools==7.7.0
# The same pins as pyproject.toml; only `make test-latest` installs torch by name.
TORCH := torch==2.14.1 torchvision==0.29.1

# The locks, both written by `make lock` from one resolution of pyproject.toml (the dev
# extra too, not sound). requirements.lock pins every dependency, transitive ones too, with
# hashes, except torch, torchvision and the CUDA packages they bring: requirements-torch.lock
# pins those without hashes, because their wheels lie on this machine's disk. The split goes
# by name pattern rather than by a list, so a torch whose CUDA packages are new needs no edit.
LOCK := requirements.lock
TORCH_LOCK := requirements-torch.lock
TORCH_FAMILY := ^(torch|torchvision|triton|nvidia-[^=]*|cuda-[^=]*)==
DEPS_HASH := $(shell cat $(LOCK) $(TORCH_LOCK) Makefile 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.mmfuse-deps-$(DEPS_HASH)
LOCK_VENV := .venv-lock
LATEST := .venv-latest

.PHONY: setup demo test lint benchmark clean lock test-latest

# Both installs take exactly the locked versions (--no-deps), torch's first; the locked
# setuptools builds the two sdists (langdetect, openai-whisper); `pip check` in setup then
# fails loudly on a lock that does not satisfy pyproject.toml or its own packages.
$(STAMP):  # its name carries the hash of the locks and this Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP)
	$(BIN)/python -m pip install --quiet --no-deps -r $(TORCH_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK) \
		--build-constraint $(LOCK)
	rm -f $(VENV)/.mmfuse-deps-*
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check

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

# Re-resolves the locks with pinned pip-tools in a scratch venv. The current pins are kept
# where pyproject.toml still allows them; `make lock LOCK_ARGS=--upgrade` moves everything to
# the newest versions its ranges allow, `LOCK_ARGS="--upgrade-package transformers"` one
# package. Fetching the hashes of new pins takes minutes (about 15 for a whole new lock).
lock:
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PIP) $(PIP_TOOLS)
	cat $(LOCK) $(TORCH_LOCK) > $(LOCK_VENV)/all.lock 2>/dev/null || true
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --extra dev --build-deps-for editable \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK_VENV)/all.lock pyproject.toml
	printf '%s\n' "# torch, torchvision and their CUDA packages, pinned by \`make lock\` beside" \
		"# $(LOCK); no hashes: their wheels lie on this machine's disk." > $(TORCH_LOCK).tmp
	awk 'NR == 1 { print "# torch, torchvision and their CUDA packages: $(TORCH_LOCK)" } \
		/^[^ ]/ { torch = ($$0 ~ /$(TORCH_FAMILY)/); if (torch) print $$1 >> "$(TORCH_LOCK).tmp" } \
		!torch' $(LOCK_VENV)/all.lock > $(LOCK).tmp
	grep -q '^torch==' $(TORCH_LOCK).tmp && grep -q '^setuptools==' $(LOCK).tmp
	mv $(TORCH_LOCK).tmp $(TORCH_LOCK) && mv $(LOCK).tmp $(LOCK)

# pyproject.toml's ranges resolved afresh (no lock) in a scratch venv, then the encoder and
# task contract tests: what a new release of a dependency breaks, before the lock moves.
test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet $(PIP)
	$(LATEST)/bin/python -m pip install --quiet $(TORCH)
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST)/bin/python -m pip check
	@echo "test-latest: versions other than the locks' (locked -> latest):"
	@$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/freeze.txt
	@awk -F'==' 'FILENAME != "$(LATEST)/freeze.txt" { split($$2, v, " "); lock[$$1] = v[1]; next } \
		{ n = tolower($$1); gsub(/[_.]/, "-", n) } \
		!(n in lock) { print "  " n ": not locked -> " $$2; moved = 1; next } \
		lock[n] != $$2 { print "  " n ": " lock[n] " -> " $$2; moved = 1 } \
		END { if (!moved) print "  none" }' $(LOCK) $(TORCH_LOCK) $(LATEST)/freeze.txt
	$(LATEST)/bin/python -m pytest -q tests/test_encoder_contract.py tests/test_task_contract.py

clean:
	rm -rf $(OUT) .pytest_cache
