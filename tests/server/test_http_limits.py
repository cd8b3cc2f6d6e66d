"""The real `sextant serve`: a clean stop on SIGTERM/SIGINT, and text searches
that used to crash or hang std::regex (issue 12)."""

import signal
import subprocess
import socket
import time

import pytest

from conftest import Served, api, sextant_binary


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(store, static_dir, sig):
    s = Served(["--root", store["root"], "--port", 0, "--static", static_dir])
    try:
        assert s.get("/api/health")["ok"] is True
        idle = socket.create_connection((s.host, s.port), timeout=10)  # an idle client
        s.proc.send_signal(sig)
        assert s.proc.wait(timeout=30) == 0, s.proc.stderr.read()
        idle.close()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def test_text_search_is_linear_and_refuses_what_re2_cannot_do(server):
    for pattern in [".*zzz", r"^(\w+\s?)*$", "(a+)+$", "(?i)SAMPLE"]:
        started = time.monotonic()
        page = server.get(api() + "/samples", {"split": "training", "text": pattern})
        assert time.monotonic() - started < 30, pattern  # generous: RE2 is linear
        assert page["total"] >= 0
    status, _, body = server.request("GET", api() + "/samples",
                                     {"split": "training", "text": r"(\w)\1"})
    assert status == 400
    assert b"text" in body and b"backreferences" in body


def test_foreign_hosts_and_cross_site_posts_are_refused(server):
    with socket.create_connection((server.host, server.port), timeout=10) as c:
        c.sendall(b"GET /api/health HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 421")
    status, _, _ = server.request("POST", api() + "/selections", body={"name": "csrf"},
                                  headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, _ = server.request("POST", api() + "/selections", body={"name": "csrf"},
                                  headers={"Origin": "http://evil.example"})
    assert status == 403
    status, headers, _ = server.request("GET", "/")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_serve_takes_the_limits_as_flags(store, static_dir):
    s = Served(["--root", store["root"], "--port", 0, "--static", static_dir,
                "--max-body-bytes", 64, "--max-connections", 4, "--max-connections-per-client", 2,
                "--request-timeout", 5, "--idle-timeout", 5, "--write-timeout", 5,
                "--text-search-budget", 5, "--shutdown-grace", 1])
    try:
        assert s.get("/api/health")["ok"] is True
        status, _, body = s.request("POST", api() + "/selections", body={"name": "x" * 100})
        assert status == 413, body
        assert b"limited to 64 bytes" in body
        status, _, _ = s.request("POST", api() + "/selections", body={"name": "small"})
        assert status == 201
    finally:
        s.stop()


def test_serve_limit_flags_are_checked_and_show_their_defaults(store):
    binary = str(sextant_binary())
    bad = subprocess.run([binary, "serve", "--root", store["root"], "--port", "0",
                          "--max-connections", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    assert "max_connections" in bad.stderr, bad.stderr
    bad = subprocess.run([binary, "serve", "--root", store["root"], "--port", "0",
                          "--request-timeout", "-1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    assert "request_timeout_s" in bad.stderr, bad.stderr
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    for flag in ["--max-connections", "--max-connections-per-client", "--request-timeout",
                 "--idle-timeout", "--write-timeout", "--max-body-bytes", "--text-search-budget",
                 "--shutdown-grace"]:
        assert flag in help_text, flag
    # The defaults shown are ServerOptions{}'s (include/sextant/server.h).
    assert "33554432" in help_text, help_text
