# The README's commands. Each target installs what is missing first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
BUILD_TYPE   ?= RelWithDebInfo
SEXTANT_DATA ?= $(abspath ../shared/data)
DEMO_ROOT    ?= $(abspath .sextant-demo)
PORT         ?= 8080
SEXTANT      := $(BUILD)/src/cli/sextant
export SEXTANT_DATA

.PHONY: all deps configure build test demo serve bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Trains the demo model, logs training, validation and production data, finishes
# the run and prints what Sextant found.
demo: build
	@rm -rf $(DEMO_ROOT)
	@$(BUILD)/examples/demo/sextant_demo --root $(DEMO_ROOT) --project demo --run sentiment
	@$(SEXTANT) report --root $(DEMO_ROOT) --project demo --run sentiment
	@echo
	@echo "Explore it in the console: make serve   (runs $(SEXTANT) serve --root $(DEMO_ROOT) --port $(PORT),"
	@echo "then open http://127.0.0.1:$(PORT)/)"

# Serves the demo run (or any store: `make serve DEMO_ROOT=~/.sextant`) in the web console
# and its JSON API (docs/http-api.md) until interrupted.
serve: build
	@$(SEXTANT) serve --root $(DEMO_ROOT) --port $(PORT)

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
