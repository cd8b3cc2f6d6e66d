# The README's commands. Each target installs what is missing first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
BUILD_TYPE   ?= RelWithDebInfo
SEXTANT_DATA ?= $(abspath ../shared/data)
DEMO_ROOT    ?= $(abspath .sextant-demo)
SEXTANT      := $(BUILD)/src/cli/sextant
# The Python package is built for Debian's interpreter (numpy, pandas, torch, pybind11).
PYTHON       ?= /usr/bin/python3
PYTHON_SITE  ?= $(shell $(PYTHON) -m site --user-site)
DEMO_PY      := PYTHONPATH=$(abspath $(BUILD)/python) $(PYTHON)
DEMO_ARGS    := --root $(DEMO_ROOT) --project demo --run sentiment
export SEXTANT_DATA

.PHONY: all deps configure build test python demo demo-cpp bench clean

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

# The same workflow with the C++ demo model (examples/demo).
demo-cpp: build
	@rm -rf $(DEMO_ROOT)
	@$(BUILD)/examples/demo/sextant_demo $(DEMO_ARGS)
	@$(SEXTANT) report $(DEMO_ARGS)

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
