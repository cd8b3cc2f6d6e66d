# The README's commands. Each target installs what is missing first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
BUILD_TYPE   ?= RelWithDebInfo
SEXTANT_DATA ?= $(abspath ../shared/data)
DEMO_ROOT    ?= $(abspath .sextant-demo)
PORT         ?= 8080
DEMO_SERVE   ?= 1
SEXTANT      := $(BUILD)/src/cli/sextant
# The Python package is built for Debian's interpreter (numpy, pandas, torch, pybind11).
PYTHON       ?= /usr/bin/python3
PYTHON_SITE  ?= $(shell $(PYTHON) -m site --user-site)
DEMO_PY      := PYTHONPATH=$(abspath $(BUILD)/python) $(PYTHON)
DEMO_ARGS    := --root $(DEMO_ROOT) --project demo --run sentiment
export SEXTANT_DATA

.PHONY: all deps configure build test python demo demo-ner demo-nli demo-cpp serve bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DPython3_EXECUTABLE=$(PYTHON) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Builds the package and installs it for $(PYTHON): a copy of build/python/sextant
# in the user site-packages ($(PYTHON_SITE)); `import sextant` then works anywhere.
python: build
	@mkdir -p $(PYTHON_SITE)
	@rm -rf $(PYTHON_SITE)/sextant
	@cp -r $(BUILD)/python/sextant $(PYTHON_SITE)/sextant
	@PYTHONPATH=$(PYTHON_SITE) $(PYTHON) -c "import sextant, sys; print('sextant', sextant.__version__, 'installed for', sys.executable, 'in', sextant.__path__[0])"

# The Python workflow (examples/python): trains a PyTorch text classifier on SST-2
# and logs training and validation, attaches production sets from other domains
# (Yelp and Amazon reviews) to the same run, finishes it, prints what Sextant
# found through the Python API, then the CLI's report. Generated data where
# $(SEXTANT_DATA) is absent.
demo: build
	@rm -rf $(DEMO_ROOT)
	@$(DEMO_PY) examples/python/train.py $(DEMO_ARGS) --no-finish
	@$(DEMO_PY) examples/python/infer.py $(DEMO_ARGS)
	@$(DEMO_PY) examples/python/show_results.py $(DEMO_ARGS)
	@$(SEXTANT) report $(DEMO_ARGS)
	@$(if $(filter 0,$(DEMO_SERVE)),echo "Explore it in the console: make serve",$(MAKE) --no-print-directory serve)

# Named-entity recognition (examples/python/ner.py): a BiLSTM tagger trained on CoNLL-2003,
# logged with its spans (training, validation, test), CoNLL test and WNUT-17 social-media
# posts attached as production sets; prints span F1 and the drifted share of span rows per
# set. Run `demo` into the same store: the run is demo/ner next to demo/sentiment.
demo-ner: build
	@rm -rf $(DEMO_ROOT)/demo/ner $(DEMO_ROOT)/demo/ner.model.pt
	@$(DEMO_PY) examples/python/ner.py --root $(DEMO_ROOT) --project demo --run ner
	@$(SEXTANT) report --root $(DEMO_ROOT) --project demo --run ner
	@$(if $(filter 0,$(DEMO_SERVE)),echo "Explore it in the console: make serve",$(MAKE) --no-print-directory serve)

# Natural language inference (examples/python/nli.py): a premise/hypothesis classifier
# trained on MNLI, MNLI's mismatched genres and SNLI image captions as production sets;
# prints accuracy and the drifted share per set. The run is demo/nli.
demo-nli: build
	@rm -rf $(DEMO_ROOT)/demo/nli $(DEMO_ROOT)/demo/nli.model.pt
	@$(DEMO_PY) examples/python/nli.py --root $(DEMO_ROOT) --project demo --run nli
	@$(SEXTANT) report --root $(DEMO_ROOT) --project demo --run nli
	@$(if $(filter 0,$(DEMO_SERVE)),echo "Explore it in the console: make serve",$(MAKE) --no-print-directory serve)

# The same workflow with the C++ demo model (examples/demo).
demo-cpp: build
	@rm -rf $(DEMO_ROOT)
	@$(BUILD)/examples/demo/sextant_demo $(DEMO_ARGS)
	@$(SEXTANT) report $(DEMO_ARGS)

# Serves the demo run (or any store: `make serve DEMO_ROOT=~/.sextant`) in the web console
# and its JSON API (docs/http-api.md) until interrupted. `make demo` ends here
# (DEMO_SERVE=0 skips it).
serve: build web
	@echo "Sextant console: http://127.0.0.1:$(PORT)/   (Ctrl-C stops it)"
	@$(SEXTANT) serve --root $(DEMO_ROOT) --port $(PORT) --static web/dist

# Benchmarks against Faiss, scikit-learn and hnswlib (bench/run.sh; about half an hour on
# two cores). `make bench BENCH_ARGS=--quick` is a two-minute smoke test.
BENCH_ARGS ?=
bench: deps
	@scripts/install-deps.sh --bench
	@cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DSEXTANT_BUILD_BENCHMARKS=ON \
	  -DSEXTANT_BUILD_TESTS=OFF -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS)
	@bench/run.sh $(BENCH_ARGS) $(BUILD)-bench

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(DEMO_ROOT)

# The web console (web/dist, served by `sextant serve --static web/dist`) and its browser
# test against the real server (needs node, npm and /usr/bin/chromium; downloads no browser).
.PHONY: web test-browser
web:
	@cd web && { test -d node_modules || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; } && npm run --silent build
test-browser: build web
	@SKIP_WEB_BUILD=1 tests/browser/run.sh $(SEXTANT)
