"""Several hosts: placement from capacity minus what was placed, images copied to where Machines go."""
import shutil
import threading

import pytest
from falcon import testing

import backends
from backends.model import HostInfo
from cimi import errors, naming, store
from cimi.ops import placement
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import TEST_NODE, Client, machine_body

GIB_KIB = 1024 * 1024


def host_uris(tmp_path, monkeypatch):
    """The URIs of two test-driver hosts (two node files, so two separate states)."""
    uris = []
    for name in ("host-a.xml", "host-b.xml"):
        shutil.copy(TEST_NODE, tmp_path / name)
        uris.append(f"test://{tmp_path / name}")
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "pw")
    return uris


@pytest.fixture
def two_hosts(tmp_path, monkeypatch):
    """A cloud over two test-driver hosts (two node files, so two separate states)."""
    uris = host_uris(tmp_path, monkeypatch)
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), libvirt_uris=uris, reconcile_every=0))
    yield cloud, Client(testing.TestClient(create_app(cloud)), "admin", "pw"), uris
    cloud.close()


def conn_of(cloud, uri):
    return cloud.backend._host(uri).conn


def test_machines_spread_over_hosts_and_run_where_recorded(two_hosts):
    cloud, admin, uris = two_hosts
    image = admin.get(admin.cep()["machineImages"]["href"]).json["machineImages"][0]
    for uri in uris:                                          # the seed image is on every host
        assert naming.seed_name("blank") in [v.name() for v in
                                             conn_of(cloud, uri).storagePoolLookupByName("default-pool").listAllVolumes()]
    hosts = []
    for n in range(4):
        _, machine = admin.create("machines", machine_body(admin, f"m{n}", machineImage={"href": image["id"]}))
        assert machine["state"] == "STARTED"
        hosts.append(machine["host"])
        name = naming.machine_name(machine["id"].rsplit("/", 1)[-1])
        assert name in [d.name() for d in conn_of(cloud, machine["host"]).listAllDomains()]
    assert sorted(hosts) == sorted(uris * 2)                  # most memory left wins, in turn


def test_an_image_made_on_one_host_is_copied_to_the_next(two_hosts):
    cloud, admin, uris = two_hosts
    _, first = admin.create("machines", machine_body(admin, "source", initialState="STOPPED"))
    capture = admin.post(admin.cep()["machineImages"]["href"], {"name": "cap", "imageLocation": first["id"]})
    assert admin.wait(capture.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    image = capture.headers["Location"]
    placed = []
    for n in range(2):
        _, machine = admin.create("machines", machine_body(admin, f"clone{n}", machineImage={"href": image}))
        assert machine["state"] == "STARTED"
        placed.append(machine["host"])
    assert set(placed) == set(uris)                           # one of them ran where the image was not made
    keys = store.get("MachineImage", image.rsplit("/", 1)[-1])["data"]["_hosts"]
    assert set(keys) == set(uris)                             # the copy is recorded once, per host


class Observed:
    """Our backend object, recording which thread calls which of its methods (an observation, not a mock)."""

    def __init__(self, backend):
        self._backend, self.calls = backend, []

    def __getattr__(self, name):
        value = getattr(self._backend, name)
        if not callable(value):
            return value

        def observed(*args, **kwargs):
            self.calls.append((threading.current_thread().name, name))
            return value(*args, **kwargs)
        return observed


def test_a_create_request_asks_no_host_and_its_job_places_the_machine(tmp_path, monkeypatch):
    """Placement reads the hosts' capacity in the worker: the POST itself makes no backend call."""
    uris = host_uris(tmp_path, monkeypatch)
    backend = Observed(backends.open_backend(uris[0], hosts=uris))
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), libvirt_uris=uris, reconcile_every=0), backend=backend)
    try:
        admin = Client(testing.TestClient(create_app(cloud)), "admin", "pw")
        body = machine_body(admin, "placed-in-the-job")
        request_thread = threading.current_thread().name      # falcon's TestClient runs the app here
        before = len(backend.calls)
        resp = admin.post(admin.cep()["machines"]["href"], body)
        in_request = [name for thread, name in backend.calls[before:] if thread == request_thread]
        assert resp.status_code == 202 and in_request == []
        assert admin.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
        assert {"hosts", "create_machine"} <= {name for thread, name in backend.calls if thread != request_thread}
        assert admin.get(resp.headers["Location"]).json["host"] in uris          # chosen and recorded by the Job
    finally:
        cloud.close()


def hosts(*specs):
    return [HostInfo(name=n, uri=n, cpus=c, memory_kib=m, free_memory_kib=f) for n, c, m, f in specs]


def test_choose_counts_what_was_placed_and_overcommits_cpus_only():
    two = hosts(("a", 2, 8 * GIB_KIB, 0), ("b", 2, 8 * GIB_KIB, 6 * GIB_KIB))
    assert placement.choose(two, {}, 1, GIB_KIB) == "a"                      # b's libvirt says 6 GiB free
    assert placement.choose(two, {"a": (1, 4 * GIB_KIB)}, 1, GIB_KIB) == "b"  # a has 4 GiB left
    assert placement.choose(two, {"a": (8, 0)}, 1, GIB_KIB) == "b"            # a's 2 CPUs x4 are taken
    with pytest.raises(errors.Conflict):
        placement.choose(two, {"a": (0, 8 * GIB_KIB)}, 1, 7 * GIB_KIB)
    assert placement.choose(hosts(("only", 1, 1, 0)), {}, 64, 10 ** 9) == "only"


def test_volumes_attach_on_their_own_host_and_draw_machines_to_it(two_hosts):
    cloud, admin, uris = two_hosts
    _, volume = admin.create("volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    home = store.get("Volume", volume["id"].rsplit("/", 1)[-1])["data"]["_host"]
    machines = [admin.create("machines", machine_body(admin, f"v{n}"))[1] for n in range(2)]
    elsewhere = [m for m in machines if m["host"] != home][0]
    refused = admin.post(elsewhere["volumes"]["href"], {"volume": {"href": volume["id"]}})
    assert refused.status_code == 409 and "own host" in refused.json["statusMessage"]
    for _ in range(2):                                         # whatever the load, it goes to the Volume's host
        _, machine = admin.create("machines", machine_body(admin, "with-volume", volumes=[{"href": volume["id"]}]))
        assert machine["host"] == home
        assert admin.wait(admin.delete(machine["id"]).headers["CIMI-Job-URI"])["state"] == "SUCCESS"
