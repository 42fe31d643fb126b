"""Fixtures shared by the API tests: a real Cloud (SQLite file, libvirt test driver) and clients."""
import base64
import time
from pathlib import Path

import pytest
from falcon import testing

from cimi import auth
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.backends.libvirtd_host import libvirtd, libvirtd_pool, libvirtd_setup  # noqa: F401 (session fixtures,
from tests.postgres import postgresql_url, pytest_terminal_summary  # noqa: F401  defined once for every test dir)
from tests.guest.image import guest_image  # noqa: F401 (session fixture: the tiny bootable guest disk)

JSON, XML = "application/json", "application/xml"
TEST_NODE = Path(__file__).parent / "data" / "cimi" / "testnode.xml"


class Client:
    """A CIMI client over falcon's test client, authenticated as one user."""

    def __init__(self, test_client, user, password):
        self.tc = test_client
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    @staticmethod
    def path(href):
        return href[href.index("/cimi"):] if "/cimi" in href else href

    def request(self, method, href, body=None, fmt="json", accept=JSON, headers=None, params=None):
        headers = {**self.headers, "Accept": accept, **(headers or {})}
        kwargs = {}
        if isinstance(body, (dict, list)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["body"] = body
            headers.setdefault("Content-Type", XML if fmt == "xml" else JSON)
        path = self.path(href)
        if "?" in path:
            path, query = path.split("?", 1)
            kwargs["query_string"] = query
        return self.tc.simulate_request(method, path, headers=headers, params=params, **kwargs)

    def get(self, href, **kw):
        return self.request("GET", href, **kw)

    def post(self, href, body=None, **kw):
        return self.request("POST", href, body, **kw)

    def put(self, href, body=None, **kw):
        return self.request("PUT", href, body, **kw)

    def delete(self, href, **kw):
        return self.request("DELETE", href, **kw)

    def cep(self):
        return self.get("/cimi/cloudEntryPoint").json

    def wait(self, job_href, timeout=20):
        """Wait for a Job to finish; return it."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_href).json
            if job["state"] in ("SUCCESS", "FAILED", "STOPPED"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_href} still {job['state']}")
            time.sleep(0.05)

    def create(self, collection_key, body, **kw):
        """POST to a CEP collection and wait for the Job; return (response, resource)."""
        resp = self.post(self.cep()[collection_key]["href"], body, **kw)
        assert resp.status_code in (201, 202), resp.text
        if resp.status_code == 202:
            job = self.wait(resp.headers["CIMI-Job-URI"])
            assert job["state"] == "SUCCESS", job.get("statusMessage")
        return resp, self.get(resp.headers["Location"]).json

    def act(self, resource, name, body=None):
        """Perform an advertised action and wait for its Job; return the resource after it."""
        op = [o for o in resource["operations"] if o["rel"].endswith("/action/" + name)]
        assert op, f"{name} not advertised in {[o['rel'] for o in resource['operations']]}"
        resp = self.post(op[0]["href"], body or {"resourceURI": "http://schemas.dmtf.org/cimi/1/Action",
                                                  "action": f"http://schemas.dmtf.org/cimi/1/action/{name}"})
        assert resp.status_code == 202, resp.text
        job = self.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
        return self.get(resource["id"]).json


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    consoles = tmp_path / "consoles"          # as virtlogd would write them (the test driver writes none)
    consoles.mkdir()
    c = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[f"test://{TEST_NODE}"],
                     console_dir=str(consoles), lease_poll=0))
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    yield c
    c.close()


@pytest.fixture
def libvirt_conn(cloud):
    """The test driver connection the cloud's backend uses (its state is per connection)."""
    return cloud.backend._host().conn


@pytest.fixture
def app(cloud):
    return testing.TestClient(create_app(cloud))


@pytest.fixture
def admin(app):
    return Client(app, "admin", "admin-pw")


@pytest.fixture
def alice(app):
    return Client(app, "alice", "alice-pw")


@pytest.fixture
def bob(app):
    return Client(app, "bob", "bob-pw")


def console_log(cloud, machine):
    """The serial console log file of a Machine document: named after its libvirt domain."""
    from cimi import naming
    return Path(cloud.config.console_dir) / f"{naming.machine_name(machine['id'].rsplit('/', 1)[-1])}-console.log"


def machine_body(client, name="m1", **template):
    cep = client.cep()
    config = client.get(cep["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"]
    image = client.get(cep["machineImages"]["href"]).json["machineImages"][0]["id"]
    return {"resourceURI": "http://schemas.dmtf.org/cimi/1/MachineCreate", "name": name,
            "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image}, **template}}
