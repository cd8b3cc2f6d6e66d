#!/usr/bin/env bash
# Installs the Debian packages Sextant builds and tests with, only those missing.
# Idempotent: a second run installs nothing and takes about a second.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libfaiss-dev libopenblas-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libre2-dev
  # The team server: API key hashes and TLS (libssl-dev); the TLS tests make a
  # self-signed certificate with the openssl command.
  libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-numpy python3-pytest
  # tests/server: /metrics is checked with the Prometheus client's text-format parser.
  python3-prometheus-client
  pybind11-dev python3-pybind11 python3-pandas python3-torch
  # A distributed finish's executor and its tests (python/sextant/dask.py).
  python3-distributed
  # tests/python/test_timeline.py checks the domain test against scikit-learn.
  python3-sklearn
  nodejs chromium
  # The fuzz targets (libFuzzer) and the ThreadSanitizer build with clang's
  # thread-safety analysis; ccache keeps the extra sanitizer builds short.
  clang-14 libclang-rt-14-dev ccache
  # make format / format-check (.clang-format)
  clang-format
  # `make deb` (CPack's DEB generator reads dependencies with dpkg-shlibdeps).
  dpkg-dev file
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-faiss python3-sklearn python3-hnswlib python3-distributed)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The web console's build and browser test need npm; a nodejs from elsewhere may ship its own.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
