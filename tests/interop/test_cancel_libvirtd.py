"""Cancel a Machine's creation on a real libvirtd: no domain and no disk of it is left."""
import shutil
import tempfile
import time
from pathlib import Path

import libvirt
import pytest

from tests.interop.conftest import RawClient, start_server

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def real_server(libvirtd, libvirtd_pool):
    pool, _ = libvirtd_pool
    root = Path(tempfile.mkdtemp(prefix="dsc-interop-", dir="/var/tmp"))
    proc, port = start_server(root, CIMI_LIBVIRT_URI=libvirtd, CIMI_IMAGE_POOL=pool)
    conn = libvirt.open(libvirtd)
    try:
        yield RawClient(port), conn, pool
    finally:
        proc.terminate()
        proc.wait(30)
        conn.close()
        shutil.rmtree(root, ignore_errors=True)


def traces(conn, pool, machine_id):
    """Domains and pool volumes whose names carry the Machine's id."""
    return ([d.name() for d in conn.listAllDomains() if machine_id in d.name()]
            + [v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0) if machine_id in v.name()])


def create(server):
    body = {"name": "cancel-me", "machineTemplate": {"machineConfig": {"href": server.first("machineConfigs")},
                                                     "machineImage": {"href": server.first("machineImages")}}}
    answer = server.request("POST", "/cimi/machines", body, headers={"Accept": "application/json"})
    assert answer.status == 202 and "delete" in [o["rel"] for o in answer.json["operations"]]
    return answer


@pytest.mark.parametrize("when", ["at once", "once the domain is defined"])
def test_cancelling_a_machine_creation_leaves_nothing_in_libvirt(real_server, when):
    server, conn, pool = real_server
    answer = create(server)
    machine_id = answer.headers["Location"].rsplit("/", 1)[-1]
    if when != "at once":
        deadline = time.monotonic() + 60
        while not [d for d in conn.listAllDomains() if machine_id in d.name()]:
            assert time.monotonic() < deadline, "the domain was never defined"
            time.sleep(0.02)
    deleted = server.request("DELETE", answer.headers["Location"], headers={"Accept": "application/json"})
    assert deleted.status == 202
    assert deleted.headers["CIMI-Job-URI"] == answer.headers["CIMI-Job-URI"]     # the create's Job, cancelled
    job = server.wait(answer.headers["CIMI-Job-URI"], timeout=120)
    assert job["state"] in ("STOPPED", "FAILED") and "cancelled" in job["statusMessage"], job
    assert server.get(answer.headers["Location"]).status == 404
    assert traces(conn, pool, machine_id) == []
