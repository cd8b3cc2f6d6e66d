"""The version has one source, CMake's project(VERSION): the package, the CLI
and the server all report it."""

import os
import subprocess

import sextant


def test_package_cli_and_cmake_agree_on_the_version():
    expected = os.environ.get("SEXTANT_VERSION")
    assert sextant.__version__ == sextant._core.__version__
    if expected:
        assert sextant.__version__ == expected
    binary = os.environ.get("SEXTANT_BIN")
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"sextant {sextant.__version__}"
