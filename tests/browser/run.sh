#!/usr/bin/env bash
# Builds the web console (npm ci + vite build in web/) and runs the browser acceptance tests:
# console.test.mjs against the real `sextant serve`, team.test.mjs (API key prompt, uploads,
# processing jobs) against tests/browser/mock_server.mjs with keys, monitor.test.mjs (timeline,
# alert rules editor, comparison) against the mock, labeling.test.mjs (suggest, Label Studio
# export, labels back) and console_links.test.mjs (issue 16: insight links, the view state in
# the URL with back/forward, find similar as a filter, the map following the filters, the
# lasso at 100k points; BIG=0 skips that run) against the real server. Usage:
#   tests/browser/run.sh [SEXTANT_BIN]      (default build/src/cli/sextant; or $SEXTANT_BIN)
# Needs node/npm and /usr/bin/chromium (apt); never downloads a browser.
# Screenshots go to artifacts/screenshots/ (or $SCREENSHOTS).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SEXTANT_BIN="${1:-${SEXTANT_BIN:-$repo/build/src/cli/sextant}}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$repo/web"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [[ "${SKIP_WEB_BUILD:-0}" != 1 ]]; then
  npm run --silent build >/dev/null
fi
cd "$repo"
# BROWSER_TEST=team.test.mjs runs one of them.
if [[ -n "${BROWSER_TEST:-}" ]]; then exec node "tests/browser/$BROWSER_TEST"; fi
# The console against the real server, then its team-server parts and its monitoring pages
# (timeline, alert rules, comparison: issue 14's contract) against the mock.
node tests/browser/console.test.mjs
# Issue 15's labeling loop: suggest, reasons, Label Studio export, labels back (real server).
node tests/browser/labeling.test.mjs
node tests/browser/team.test.mjs
# "Suggest N to label" (docs/labeling.md) against the real server.
node tests/browser/suggest.test.mjs
# Issue 16, points 3 and 4: insights link to their samples, the view state in the URL with
# back/forward, find similar as a filter, the map following the table (and its lasso at 100k).
node tests/browser/console_links.test.mjs
# Issue 16's console points 2 and 5-9 (verdict, export menu, tables and themes, keyboard and
# axe-core, error banner, NER entity types) against the real server.
node tests/browser/console_ui.test.mjs
exec node tests/browser/monitor.test.mjs
