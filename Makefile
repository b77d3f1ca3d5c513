# The two commands of the README:
#   make book   build the book into _build/html and release the assignments
#   make test   run every test
# Both create the virtual environment .venv and install the pinned dependencies when needed
# (requirements/dev.txt with requirements/constraints.txt: jupyter-book<2, torch==2.13.0 CPU).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(abspath $(VENV))/bin
INSTALLED := $(VENV)/.installed
# nbgrader runs alembic as a subprocess and Jupyter finds kernels through PATH.
export PATH := $(BIN):$(PATH)
ASSIGNMENTS := $(notdir $(wildcard assignments/source/*))
PYTEST_ARGS ?=

.PHONY: book book-cached chapter test bench assignments venv sandbox browser postgres notebooks clean

venv: $(INSTALLED)

$(INSTALLED): requirements/dev.txt requirements/constraints.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -r requirements/dev.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet --no-deps -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(INSTALLED)

# bubblewrap isolates student code during sandboxed grading (rnncourse.autograde).
sandbox:
	@tools/ensure-package.sh bwrap bubblewrap "sandboxed grading"

book: $(INSTALLED) assignments
	rm -rf _build/.jupyter_cache
	jupyter-book build --all -W -n --keep-going .
	@echo "The book is at $(abspath _build/html/index.html)"

# A quicker rebuild for authors: chapters whose code did not change come from the execution cache.
book-cached: $(INSTALLED)
	jupyter-book build --all -W -n --keep-going .
	@echo "The book is at $(abspath _build/html/index.html)"

# One chapter alone, executed and rendered into _build/chapter/<CH>/, for authors: `make chapter CH=ch03`.
# Errors, stderr output and malformed {claim} boxes show as warnings. Links to other pages cannot
# resolve in a one-page build (those warnings are expected); check them with `make book-cached`.
# The one-page build reads paths from the page's folder, so it gets a copy of _config.yml with
# absolute ones.
CHAPTER_SOURCE = $(firstword $(wildcard book/$(CH).md book/$(CH)_*.md))
chapter: $(INSTALLED)
	@test -n "$(CH)" -a -n "$(CHAPTER_SOURCE)" || { echo "usage: make chapter CH=ch03 or CH=ch06_sentiment (book/CH.md or book/CH_*.md must exist)"; exit 2; }
	mkdir -p _build/chapter
	python -c 'import yaml; c = yaml.safe_load(open("_config.yml")); s = c["sphinx"]; \
	  s["config"]["bibtex_bibfiles"] = ["$(abspath book/references.bib)"]; \
	  s["local_extensions"] = {k: "$(abspath .)/" + v for k, v in s["local_extensions"].items()}; \
	  yaml.safe_dump(c, open("_build/chapter/_config.yml", "w"))'
	jupyter-book build $(CHAPTER_SOURCE) --config _build/chapter/_config.yml --path-output _build/chapter/$(CH)
	@echo "The chapter is at $(abspath _build/chapter/$(CH))/_build/_page/$(basename $(notdir $(CHAPTER_SOURCE)))/html/$(basename $(notdir $(CHAPTER_SOURCE))).html"

assignments: $(INSTALLED) sandbox
	cd assignments && for a in $(ASSIGNMENTS); do nbgrader generate_assignment "$$a" --force --log-level=WARN; done
	@echo "Released assignments are in $(abspath assignments/release)"

# Chromium for the browser test of the book (Playwright drives the system's Chromium).
browser:
	@tools/ensure-package.sh chromium chromium "the browser test of the book"

# PostgreSQL (Debian's postgresql) for the test of a Postgres gradebook (tests/test_postgres_gradebook.py).
postgres:
	@tools/ensure-package.sh pg_createcluster postgresql "the Postgres gradebook test"

# The .ipynb twin of every chapter (for Colab, Binder and download), from its MyST source.
notebooks: $(INSTALLED)
	for f in book/ch*.md; do jupytext --quiet --to ipynb "$$f"; done

test: $(INSTALLED) sandbox browser postgres
	python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

# Benchmarks (ratios printed, not timed tests): numpy vs torch, scaling, grading latency.
bench: $(INSTALLED) sandbox
	python benchmarks/run_all.py
	python benchmarks/grading_speed.py

clean:
	rm -rf _build assignments/release assignments/gradebook.db
