"""The team server's keys and HTTPS end to end: `sextant keys` and the real
`sextant serve`, driven over HTTP(S) with the standard library (docs/team-server.md).

Each test works on a copy of the session's store: keys made in the shared
store would close the open server the other API tests use.
"""

import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import PROJECT, RUN, Served, api, sextant_binary


def sextant(*args):
    return subprocess.run([str(sextant_binary()), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def root(store, tmp_path):
    copy = tmp_path / "root"
    shutil.copytree(store["root"], copy)
    return copy


def create_key(root, name, role, *projects):
    args = ["keys", "create", "--root", root, "--name", name, "--role", role]
    for p in projects:
        args += ["--project", p]
    r = sextant(*args)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert key.startswith("sxk_") and "\n" not in key
    assert "cannot be shown again" in r.stderr
    return key


def call(served, method, path, key=None, body=None, context=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(served.base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60, context=context) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_keys_list_never_shows_secrets_and_revoke_applies_at_once(root):
    writer = create_key(root, "ci", "write", PROJECT)
    reader = create_key(root, "viewer", "read")
    listed = sextant("keys", "list", "--root", root)
    assert listed.returncode == 0
    assert "ci" in listed.stdout and "viewer" in listed.stdout
    as_json = json.loads(sextant("keys", "list", "--root", root, "--format", "json").stdout)
    assert [(k["name"], k["role"], k["projects"], k["revoked"]) for k in as_json] == [
        ("ci", "write", [PROJECT], False), ("viewer", "read", [], False)]
    for secret in (writer, reader):
        assert secret[-64:] not in listed.stdout + json.dumps(as_json)
        assert secret[-64:].encode() not in (root / ".server" / "server.db").read_bytes()

    s = Served(["--root", root, "--port", 0])
    try:
        # No key, a wrong key: 401 with the Bearer challenge, and nothing stored shown.
        for key in (None, writer[:-1] + ("0" if writer[-1] != "0" else "1")):
            status, headers, body = call(s, "GET", "/api/runs", key)
            assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"
            assert json.loads(body)["error"]["code"] == "unauthenticated"
            assert PROJECT.encode() not in body
        assert call(s, "GET", "/api/health")[0] == 200
        status, _, body = call(s, "GET", "/api/whoami", writer)
        assert status == 200
        assert json.loads(body) == {"key_name": "ci", "role": "write", "projects": [PROJECT],
                                    "key_required": True}
        # A read key cannot write; the write key can, on its project only.
        status, _, body = call(s, "POST", api() + "/selections", reader, body={"name": "x"})
        assert status == 403 and json.loads(body)["error"]["code"] == "permission_denied"
        assert call(s, "POST", api() + "/selections", writer, body={"name": "x"})[0] == 201
        status, _, body = call(s, "GET", api("elsewhere", RUN), writer)
        assert status == 403 and b"text" not in body
        assert call(s, "GET", api() + "/samples?split=training", reader)[0] == 200

        r = sextant("keys", "revoke", "--root", root, "--name", "ci")
        assert r.returncode == 0, r.stderr
        assert call(s, "GET", "/api/runs", writer)[0] == 401
        assert call(s, "GET", "/api/runs", reader)[0] == 200
        used = {k["name"]: k["last_used_at"] for k in
                json.loads(sextant("keys", "list", "--root", root, "--format", "json").stdout)}
        assert used["ci"] and used["viewer"]
    finally:
        s.stop()


def test_off_loopback_needs_a_key(root):
    r = sextant("serve", "--root", root, "--host", "0.0.0.0", "--port", 0)
    assert r.returncode == 2
    assert "sextant keys create" in r.stderr
    key = create_key(root, "ops", "admin")
    s = Served(["--root", root, "--host", "0.0.0.0", "--port", 0])
    try:
        s.base = f"http://127.0.0.1:{s.port}"
        assert call(s, "GET", "/api/runs")[0] == 401
        status, _, body = call(s, "GET", "/api/runs", key)
        assert status == 200 and json.loads(body)["runs"]
    finally:
        s.stop()


def make_certificate(folder):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", folder / "key.pem", "-out", folder / "cert.pem"],
                   check=True, capture_output=True, timeout=60)
    return folder / "cert.pem", folder / "key.pem"


def test_https_with_tls_cert_and_key(root, tmp_path):
    cert, key_file = make_certificate(tmp_path)
    key = create_key(root, "ops", "read")
    s = Served(["--root", root, "--port", 0, "--tls-cert", cert, "--tls-key", key_file])
    try:
        assert s.base.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))  # verifies the certificate
        status, _, body = call(s, "GET", "/api/health", context=context)
        assert status == 200 and json.loads(body)["ok"]
        assert call(s, "GET", "/api/runs", context=context)[0] == 401
        status, _, body = call(s, "GET", api() + "/samples?split=training&limit=5", key,
                               context=context)
        assert status == 200 and len(json.loads(body)["samples"]) == 5
        # Without the CA, the client refuses the self-signed certificate.
        with pytest.raises(urllib.error.URLError):
            call(s, "GET", "/api/health")
        # Plain HTTP to the HTTPS port: a plain 400 saying so, and the connection closes.
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400") and b"HTTPS" in answer
        # And it still serves HTTPS.
        assert call(s, "GET", "/api/health", context=context)[0] == 200
    finally:
        s.stop()


def test_https_keeps_the_request_limits(root, tmp_path):
    """A client that stalls inside its request after the TLS handshake, or sends a body
    over the limit, is cut off as on plain HTTP."""
    cert, key_file = make_certificate(tmp_path)
    s = Served(["--root", root, "--port", 0, "--tls-cert", cert, "--tls-key", key_file,
                "--request-timeout", 1, "--idle-timeout", 1, "--max-body-bytes", 1000])
    try:
        context = ssl.create_default_context(cafile=str(cert))
        for partial in (b"", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
            with socket.create_connection(("127.0.0.1", s.port), timeout=30) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(partial)
                    got = b""
                    try:
                        while chunk := tls.recv(4096):  # the server closes it (1 s)
                            got += chunk
                    except (ssl.SSLError, ConnectionResetError):
                        pass
                    assert b"200 OK" not in got
        status, _, body = call(s, "POST", api() + "/samples/query", body={"pad": "x" * 5000},
                               context=context)
        assert status == 413, body
        assert call(s, "GET", "/api/health", context=context)[0] == 200
    finally:
        s.stop()


def test_tls_files_are_checked_at_start(root, tmp_path):
    cert, key_file = make_certificate(tmp_path)
    r = sextant("serve", "--root", root, "--port", 0, "--tls-cert", cert)
    assert r.returncode == 2 and "tls_key" in r.stderr
    r = sextant("serve", "--root", root, "--port", 0, "--tls-cert", tmp_path / "nope.pem",
                "--tls-key", key_file)
    assert r.returncode == 2 and "nope.pem" in r.stderr
