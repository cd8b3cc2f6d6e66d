# The README's commands. Each target installs what is missing first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
BUILD_TYPE   ?= RelWithDebInfo
SEXTANT_DATA ?= $(abspath ../shared/data)
DEMO_ROOT    ?= $(abspath .sextant-demo)
PORT         ?= 8080
DEMO_SERVE   ?= 1
SEXTANT      := $(BUILD)/src/cli/sextant
# Warnings are errors in every build made through this Makefile (CI's too);
# `make build WERROR=OFF` for a build with a newer compiler's new warnings.
WERROR       ?= ON
# Compiler cache, when installed: the sanitizer and fuzz builds reuse it.
LAUNCHER     := $(if $(shell command -v ccache 2>/dev/null),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The clang of the fuzz and ThreadSanitizer builds (libFuzzer, -Wthread-safety).
CLANGXX      ?= clang++-14
# Seconds per fuzz target: `make fuzz` (FUZZ_SECONDS), and the brief run of `make test`.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# Where `make install` puts Sextant (the binary in $(PREFIX)/bin, ...).
PREFIX       ?= /usr/local
# The Python package is built for Debian's interpreter (numpy, pandas, torch, pybind11).
PYTHON       ?= /usr/bin/python3
PYTHON_SITE  ?= $(shell $(PYTHON) -m site --user-site)
DEMO_PY      := PYTHONPATH=$(abspath $(BUILD)/python) $(PYTHON)
DEMO_ARGS    := --root $(DEMO_ROOT) --project demo --run sentiment
export SEXTANT_DATA

.PHONY: all deps configure build test test-quick stress format format-check python demo demo-ner demo-nli demo-cpp serve bench clean \
        test-asan test-tsan fuzz fuzz-smoke install deb

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DPython3_EXECUTABLE=$(PYTHON) -DSEXTANT_WERROR=$(WERROR) $(LAUNCHER) >/dev/null

# The console (web/dist) is built too where npm is installed: once here (npm ci
# and the Vite build, `make web`), then by the CMake build whenever its sources
# change (web/CMakeLists.txt). Without npm, or offline, the build goes on and
# `sextant serve` shows its "console not built" page.
build: configure
	@cmake --build $(BUILD) -j $(JOBS)
	@if [ ! -f web/dist/index.html ] && command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory web || echo "web console not built (npm failed); the rest is" >&2; \
	fi

# The README's test command, what CI runs: every test of the build (unit,
# end-to-end, Python, browser, install, the crash harness, the fuzz targets'
# regression inputs), each fuzz target for FUZZ_SMOKE_SECONDS, the C++ unit tests
# under ASan + UBSan, and the client's threading tests under TSan. Each step
# prints its time. `make test-quick` is the first step alone.
test:
	@set -e; for t in test-quick fuzz-smoke test-asan test-tsan; do \
	  start=$$(date +%s); echo "=== make $$t"; \
	  $(MAKE) --no-print-directory $$t; \
	  echo "=== make $$t: $$(( $$(date +%s) - start )) s"; \
	done

test-quick: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C++ unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer
# (gcc) in $(BUILD)-asan; the Python, browser and end-to-end tests are left out.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSEXTANT_SANITIZE=address \
	  -DSEXTANT_WERROR=$(WERROR) -DSEXTANT_BUILD_PYTHON=OFF -DSEXTANT_BUILD_EXAMPLES=OFF \
	  $(LAUNCHER) >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
	  LSAN_OPTIONS=suppressions=$(abspath .ci/lsan.supp) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# The client's threading tests under ThreadSanitizer, built with clang and its
# thread-safety analysis (-Wthread-safety -Werror on the annotated client).
# OpenMP and OpenBLAS run single-threaded (TSan cannot see libgomp's barriers;
# a finish runs OpenBLAS on the calling thread anyway), and the threads under
# test are the client's own (std::thread).
TSAN_TESTS := tests/client/client_test tests/client/ner_nli_test tests/client/sample_id_index_test \
  tests/client/client_durability_test
test-tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER=$(CLANGXX) \
	  -DSEXTANT_SANITIZE=thread -DSEXTANT_THREAD_SAFETY=ON -DSEXTANT_WERROR=ON \
	  -DSEXTANT_BUILD_PYTHON=OFF -DSEXTANT_BUILD_EXAMPLES=OFF $(LAUNCHER) >/dev/null
	@cmake --build $(BUILD)-tsan -j $(JOBS) --target $(notdir $(TSAN_TESTS))
	@set -e; for t in $(TSAN_TESTS); do \
	  echo "== $$t (ThreadSanitizer)"; \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath .ci/tsan.supp)" \
	    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BUILD)-tsan/$$t --gtest_brief=1; \
	done

# clang-format (.clang-format) over every C++ file in git: `format` rewrites them,
# `format-check` fails on the first file that differs (CI runs it).
CXX_SOURCES = $(shell git ls-files '*.cc' '*.h')
format:
	@clang-format -i $(CXX_SOURCES)
format-check:
	@clang-format --dry-run --Werror $(CXX_SOURCES) && echo "clang-format: $(words $(CXX_SOURCES)) files formatted"

# The crash harness (tests/fault/crash_test.cc) with more trials: SIGKILL at random moments
# of logging, finish, selection writes and run creation, CRASH_TRIALS each (make test: 20),
# seeded by CRASH_SEED (printed, to replay a failure).
CRASH_TRIALS ?= 200
CRASH_SEED   ?= $(shell date +%s)
stress: build
	@echo "crash harness: $(CRASH_TRIALS) trials per scenario, seed $(CRASH_SEED)"
	@SEXTANT_CRASH_TRIALS=$(CRASH_TRIALS) SEXTANT_CRASH_SEED=$(CRASH_SEED) $(BUILD)/tests/fault/crash_test

# Installs the build under $(PREFIX): bin/sextant, share/sextant/web (the
# console, when built), include/sextant, the static libraries, the CMake package
# (find_package(Sextant)) and lib/pkgconfig/sextant.pc.
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# A Debian package of the same (sextant_<version>_<arch>.deb in $(BUILD)).
deb: build
	@cd $(BUILD) && cpack -G DEB

# libFuzzer targets (fuzz/, docs/testing.md) built with clang, ASan and UBSan in
# $(BUILD)-fuzz; each runs for FUZZ_SECONDS from its seed corpus (fuzz/corpus).
# Crashes are written to $(BUILD)-fuzz/fuzz/artifacts.
define fuzz_run
	@cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER=$(CLANGXX) \
	  -DSEXTANT_BUILD_FUZZERS=ON -DSEXTANT_FUZZ_SECONDS=$(1) -DSEXTANT_BUILD_TESTS=OFF \
	  -DSEXTANT_BUILD_PYTHON=OFF -DSEXTANT_BUILD_EXAMPLES=OFF -DSEXTANT_WERROR=$(WERROR) \
	  $(LAUNCHER) >/dev/null
	@cmake --build $(BUILD)-fuzz -j $(JOBS) --target sextant_fuzzers
	@cd $(BUILD)-fuzz && ctest -L fuzz --output-on-failure -j $(JOBS)
endef
fuzz: deps
	$(call fuzz_run,$(FUZZ_SECONDS))
fuzz-smoke: deps
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

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

# Benchmarks against Faiss, scikit-learn and hnswlib, live ingest, the distributed finish
# (bench/run.sh; about half an hour on two cores). `make bench BENCH_ARGS=--quick` is a two-minute smoke test.
BENCH_ARGS ?=
bench: deps
	@scripts/install-deps.sh --bench
	@cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DSEXTANT_BUILD_BENCHMARKS=ON \
	  -DSEXTANT_BUILD_TESTS=OFF -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS)
	@bench/run.sh $(BENCH_ARGS) $(BUILD)-bench

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz $(DEMO_ROOT)

# The web console (web/dist, served by `sextant serve --static web/dist`) and its browser
# test against the real server (needs node, npm and /usr/bin/chromium; downloads no browser).
.PHONY: web test-browser
web:
	@cd web && { test -d node_modules || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; } && npm run --silent build
test-browser: build web
	@SKIP_WEB_BUILD=1 tests/browser/run.sh $(SEXTANT)
