#!/usr/bin/env bash
# Builds the web console (npm ci + vite build in web/) and runs the browser acceptance test
# against the real `sextant serve`. Usage:
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
exec node tests/browser/console.test.mjs
