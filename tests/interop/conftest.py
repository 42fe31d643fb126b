"""A real cimi-server on loopback and a client that speaks raw HTTP, as 2013 CIMI clients did.

The plugfest clients (Deltacloud's tests/cimi, RestClient underneath) sent
hand-made headers and bodies: no Accept at all or `*/*`, charset
parameters, XML without a namespace. http.client sends exactly what a test
writes, so these tests see the server as those clients saw it.
"""
import base64
import functools
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import TEST_NODE

SERVER = str(Path(sys.executable).parent / "cimi-server")
CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI
PASSWORD = "interop-pw"


XSD = Path(__file__).resolve().parents[1] / "data" / "cimi" / "dsp8009_1.0.2.xsd"


@functools.cache
def _xsd():
    return etree.XMLSchema(etree.parse(str(XSD)))


class Answer:
    """One HTTP answer: status, headers (case-insensitive), raw body, and its parsed forms."""

    def __init__(self, resp):
        self.status, self.headers, self.body = resp.status, resp.headers, resp.read()

    @property
    def media(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def xml(self):
        """The body as XML, which must validate against the DSP8009 schema."""
        root = etree.fromstring(self.body)
        assert _xsd().validate(root), "\n".join(f"line {e.line}: {e.message}" for e in _xsd().error_log)
        return root


class RawClient:
    """HTTP/1.1 to the server, with exactly the headers given (plus Host and Content-Length)."""

    def __init__(self, port, user="admin", password=PASSWORD):
        self.port = port
        self.base = f"http://127.0.0.1:{port}/cimi/"
        self.authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(self, method, url, body=None, headers=None, auth=True):
        path = url[url.index("/cimi"):] if "/cimi" in url else url
        sent = dict(headers or {})
        if auth:
            sent.setdefault("Authorization", self.authorization)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            sent.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in sent.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            return Answer(conn.getresponse())
        finally:
            conn.close()

    def get(self, url, accept="application/json", **kw):
        headers = {**({"Accept": accept} if accept else {}), **kw.pop("headers", {})}
        return self.request("GET", url, headers=headers, **kw)

    def cep(self):
        return self.get("/cimi/cloudEntryPoint").json

    def first(self, collection_key):
        """The id of the first resource of a CEP collection (seeded configurations and images)."""
        listing = self.get(self.cep()[collection_key]["href"]).json
        return next(v for k, v in listing.items() if isinstance(v, list))[0]["id"]

    def wait(self, job_href, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_href).json
            if job["state"] in ("SUCCESS", "FAILED", "STOPPED"):
                return job
            assert time.monotonic() < deadline, f"job {job_href} still {job['state']}"
            time.sleep(0.05)

    def resource(self, answer):
        """Wait for the Job of a create answer (201 or 202, as the plugfest clients accepted); return it."""
        assert answer.status in (201, 202), (answer.status, answer.body)
        if "CIMI-Job-URI" in answer.headers:
            job = self.wait(answer.headers["CIMI-Job-URI"])
            assert job["state"] == "SUCCESS", job
        return self.get(answer.headers["Location"]).json


def start_server(tmp_path, *args, **env):
    """Start cimi-server (test driver, its own data dir) with options and environment; return (proc, port)."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = tmp_path / "server.log"
    environ = {**os.environ, "CIMI_BIND": f"127.0.0.1:{port}", "CIMI_DATA_DIR": str(tmp_path),
               "CIMI_LIBVIRT_URI": f"test://{TEST_NODE}", "CIMI_ADMIN_PASSWORD": PASSWORD,
               "CIMI_RECONCILE_EVERY": "0", **env}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([SERVER, *args], env=environ, stderr=log)
    deadline = time.monotonic() + 60
    while "Serving on" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("cimi-server did not start:\n" + log_path.read_text())
        time.sleep(0.05)
    return proc, port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server per test module, with the default configuration."""
    proc, port = start_server(tmp_path_factory.mktemp("interop"))
    yield RawClient(port)
    proc.terminate()
    proc.wait(20)
