#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as a user would:
# the CLI (--version), a C++ program built against the installed package with
# find_package(Sextant) and with pkg-config, then `sextant serve` answering
# /api/runs and the console's page from the installed assets (or the "not
# built" page when web/dist was not built).
# Usage: run.sh BUILD_DIR SOURCE_DIR VERSION CXX
set -euo pipefail
build=$1 src=$2 version=$3 cxx=$4
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
test -x "$prefix/bin/sextant"
test -f "$prefix/include/sextant/client.h"
test -f "$prefix/include/sextant/version.h"

echo "== sextant --version"
got=$("$prefix/bin/sextant" --version)
[[ "$got" == "sextant $version" ]] || { echo "expected 'sextant $version', got '$got'"; exit 1; }

echo "== a program built with find_package(Sextant)"
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release >"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log"; exit 1; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; exit 1; }
"$tmp/consumer/consumer" "$tmp/store-cmake"

echo "== a program built with pkg-config"
pc_dir=$(dirname "$(find "$prefix" -name sextant.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs sextant)
# shellcheck disable=SC2086
"$cxx" -O1 "$src/tests/install/consumer/main.cc" -o "$tmp/consumer-pc" $flags
"$tmp/consumer-pc" "$tmp/store"

echo "== sextant serve from the installed tree"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$tmp" && exec "$prefix/bin/sextant" serve --root "$tmp/store" --port "$port") >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/health", timeout=1)
PY
  sleep 0.1
done
python3 - "$port" "$prefix" <<'PY'
import json, os, sys, urllib.error, urllib.request
port, prefix = sys.argv[1], sys.argv[2]
runs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=10))["runs"]
assert [(r["project"], r["run"], r["finished"]) for r in runs] == [("installed", "r", True)], runs
try:
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
except urllib.error.HTTPError as e:
    page = e.read().decode()
installed_console = os.path.isfile(os.path.join(prefix, "share/sextant/web/index.html"))
if installed_console:
    want = open(os.path.join(prefix, "share/sextant/web/index.html")).read()
    assert page == want, "serve did not answer the installed console's index.html"
    print("serve: /api/runs lists the run; / is the installed console")
else:
    assert "not built" in page.lower(), page[:300]
    print("serve: /api/runs lists the run; / is the 'console not built' page (no web/dist)")
PY
echo "install test passed"
