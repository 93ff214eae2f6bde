# Two commands do everything on a fresh machine: `make book` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
KENLM_ORDER := 21
KENLM_STAMP := $(VENV)/.kenlm-order$(KENLM_ORDER)
KENLM_TOOLS_STAMP := $(VENV)/.kenlm-tools-order$(KENLM_ORDER)
KENLM_BUILD := $(VENV)/kenlm-build
DATA ?= $(if $(LIT_RNN_DATA),$(LIT_RNN_DATA),data)
PRESET ?= core
JOBS ?= 2

.PHONY: setup test test-fast book lab clean

WIDGETS_JS := book/_static/widgets/embed-amd.js

# The Python packages first; then KenLM's module, KenLM's programs and the site's scripts side by side.
setup: $(STAMP)
	@$(MAKE) --no-print-directory --silent --jobs=2 $(KENLM_STAMP) $(KENLM_TOOLS_STAMP) $(WIDGETS_JS)

# The system packages the steps below need (scripts/debian-packages.txt, the list CI installs too):
# checked on any system, installed with apt-get where no password is needed, else the command is printed.
$(SYSTEM_STAMP): scripts/debian-packages.txt
	$(PYTHON) scripts/system_packages.py
	mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml | $(SYSTEM_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# kenlm's Python module must be compiled for 21-grams (Table 2's n-gram with 20 bytes of context);
# --no-cache-dir keeps pip from reusing a cached default (order 6) wheel.
$(KENLM_STAMP): $(STAMP)
	@echo "pip install kenlm==0.3.0 compiled for $(KENLM_ORDER)-grams (about two minutes)"
	MAX_ORDER=$(KENLM_ORDER) $(BIN)/pip install --quiet --no-cache-dir --force-reinstall --no-deps --no-binary kenlm kenlm==0.3.0
	$(BIN)/python -c "import kenlm"
	touch $@

# KenLM's programs lmplz (estimation) and build_binary (binarisation) for lit_rnn.ngram, built for
# 21-grams from the same kenlm==0.3.0 source as the Python module, into $(BIN). `--no-binary kenlm`
# (not `:all:`, which would compile pip's build dependencies, cmake included, from source).
$(KENLM_TOOLS_STAMP): $(STAMP)
	rm -rf $(KENLM_BUILD) && mkdir -p $(KENLM_BUILD)
	$(BIN)/pip download --quiet --no-deps --no-binary kenlm --no-cache-dir kenlm==0.3.0 -d $(KENLM_BUILD)
	tar -xzf $(KENLM_BUILD)/kenlm-0.3.0.tar.gz -C $(KENLM_BUILD)
	@echo "cmake -DKENLM_MAX_ORDER=$(KENLM_ORDER) && make -j2 lmplz build_binary (about a minute; logs in $(KENLM_BUILD))"
	@cmake -S $(KENLM_BUILD)/kenlm-0.3.0 -B $(KENLM_BUILD)/build -DKENLM_MAX_ORDER=$(KENLM_ORDER) \
		-DCMAKE_BUILD_TYPE=Release >$(KENLM_BUILD)/cmake.log 2>&1 || { tail -n 15 $(KENLM_BUILD)/cmake.log; exit 1; }
	@$(MAKE) -C $(KENLM_BUILD)/build -j2 lmplz build_binary >$(KENLM_BUILD)/make.log 2>&1 \
		|| { tail -n 15 $(KENLM_BUILD)/make.log; exit 1; }
	install -m 755 $(KENLM_BUILD)/build/bin/lmplz $(KENLM_BUILD)/build/bin/build_binary $(BIN)/
	rm -rf $(KENLM_BUILD)
	touch $@

# The widget manager, RequireJS and MathJax are served with the site, so it works offline.
$(WIDGETS_JS): | $(SYSTEM_STAMP)
	rm -rf .npm-pack book/_static/widgets book/_static/mathjax && mkdir -p .npm-pack book/_static/widgets book/_static/mathjax/output/chtml/fonts
	cd .npm-pack && npm pack --silent @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 mathjax@3.2.2 >/dev/null
	cd .npm-pack && for p in *.tgz; do mkdir -p $${p%.tgz} && tar -xzf $$p -C $${p%.tgz}; done
	cp .npm-pack/jupyter-widgets-html-manager-1.0.15/package/dist/* .npm-pack/requirejs-2.3.8/package/require.js book/_static/widgets/
	rm book/_static/widgets/*.map book/_static/widgets/embed.js book/_static/widgets/libembed-amd.js 2>/dev/null || true
	cp .npm-pack/mathjax-3.2.2/package/es5/tex-chtml.js book/_static/mathjax/
	cp -r .npm-pack/mathjax-3.2.2/package/es5/output/chtml/fonts/woff-v2 book/_static/mathjax/output/chtml/fonts/
	rm -rf .npm-pack

LINT := $(BIN)/ruff check src tests bench scripts notebooks/*.py

# The tests run in TEST_WORKERS processes (pytest-xdist), a test file per process at a time, so that the
# tiny book's build in one file runs beside the other files; one thread each (OMP_NUM_THREADS), as the
# processes already share the cores (more threads than cores made every test slower).
TEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Everything, the book build in a real browser included (what CI runs).
test: setup
	$(LINT)
	LIT_RNN_DATA=$(DATA) $(PYTEST)

# The same without the tests marked slow (the whole book at the tiny preset).
test-fast: setup
	$(LINT)
	LIT_RNN_DATA=$(DATA) $(PYTEST) -m "not slow"

book: setup
	LIT_RNN_DATA=$(DATA) $(BIN)/lit-rnn book --preset $(PRESET) --jobs $(JOBS) $(if $(RETRAIN),--retrain)

# JupyterLab with the chapters opening as notebooks (jupytext) and live widgets.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
lab: setup
	mkdir -p $(dir $(LAB_OVERRIDES))
	echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' > $(LAB_OVERRIDES)
	LIT_RNN_DATA=$(DATA) $(BIN)/jupyter lab notebooks/

clean:
	rm -rf _build
