"""Stopping a Machine: graceful with a visible wait and a timeout, or forced (DSP0263 5.14.1 `force`)."""
import time

import libvirt
import pytest

from cimi import naming
from tests.api.test_machine_errors import real_cloud  # noqa: F401 (a fixture)
from tests.conftest import machine_body

pytestmark = pytest.mark.libvirtd
CIMI = "http://schemas.dmtf.org/cimi/1"


def started_blank_machine(alice, observer):
    """A Machine booting the blank seed image: no OS, so it ignores ACPI shutdown requests."""
    body = machine_body(alice, "deaf")
    body["machineTemplate"]["machineConfig"] = {"cpu": 1, "memory": 64 * 1024}
    _, machine = alice.create("machines", body)
    assert machine["state"] == "STARTED"
    return machine, observer.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))


def stop(alice, machine, **params):
    resp = alice.post(machine["id"] + "/stop", {"action": f"{CIMI}/action/stop", **params})
    assert resp.status_code == 202, resp.text
    return resp.headers["CIMI-Job-URI"]


def test_a_guest_ignoring_shutdown_is_waited_for_then_powered_off(real_cloud):  # noqa: F811
    make, observer, _pool = real_cloud
    _cloud, alice = make("qemu", stop_timeout=3)
    machine, dom = started_blank_machine(alice, observer)
    job_href = stop(alice, machine)
    seen, began = [], time.monotonic()
    while (job := alice.get(job_href).json)["state"] == "RUNNING" or job["state"] == "QUEUED":
        if job.get("statusMessage") and (job["statusMessage"], job["progress"]) not in seen:
            seen.append((job["statusMessage"], job["progress"]))
        assert dom.isActive() or time.monotonic() - began >= 3
        time.sleep(0.1)
    elapsed = time.monotonic() - began
    assert job["state"] == "SUCCESS", job
    assert 3 <= elapsed < 15
    waits = [(m, p) for m, p in seen if m.startswith("waiting for the guest to shut down (")]
    assert waits and waits[0][0] == "waiting for the guest to shut down (1 s of 3 s)", seen
    assert all(0 < p < 100 for _m, p in waits) and [p for _m, p in waits] == sorted(p for _m, p in waits)
    assert job["statusMessage"] == "the guest did not shut down within 3 s: powered off"
    assert alice.get(machine["id"]).json["state"] == "STOPPED"
    assert dom.state(0)[0] == libvirt.VIR_DOMAIN_SHUTOFF


def test_force_powers_off_at_once(real_cloud):  # noqa: F811
    make, observer, _pool = real_cloud
    _cloud, alice = make("qemu", stop_timeout=30)
    machine, dom = started_blank_machine(alice, observer)
    began = time.monotonic()
    job = alice.wait(stop(alice, machine, force=True), timeout=30)
    assert job["state"] == "SUCCESS" and time.monotonic() - began < 10
    assert "waiting" not in job.get("statusMessage", "")
    assert alice.get(machine["id"]).json["state"] == "STOPPED" and not dom.isActive()


def test_a_wait_ended_by_a_forced_stop_does_not_end_on_waiting(real_cloud):  # noqa: F811
    make, observer, _pool = real_cloud
    _cloud, alice = make("qemu", stop_timeout=60)
    machine, dom = started_blank_machine(alice, observer)
    graceful = stop(alice, machine)
    deadline = time.monotonic() + 20
    while not alice.get(graceful).json.get("statusMessage", "").startswith("waiting for the guest"):
        assert time.monotonic() < deadline, alice.get(graceful).json
        time.sleep(0.1)
    assert alice.wait(stop(alice, machine, force=True), timeout=30)["state"] == "SUCCESS"
    job = alice.wait(graceful, timeout=30)
    assert job["state"] == "SUCCESS", job
    assert job["statusMessage"].startswith("the machine stopped after "), job
    assert alice.get(machine["id"]).json["state"] == "STOPPED" and not dom.isActive()


def test_a_restart_the_guest_ignores_still_boots_it_again(real_cloud):  # noqa: F811
    """A graceful restart is a watched shutdown (powered off after the timeout) and a boot."""
    make, observer, _pool = real_cloud
    _cloud, alice = make("qemu", stop_timeout=3)
    machine, dom = started_blank_machine(alice, observer)
    before = dom.ID()
    job = alice.wait(alice.post(machine["id"] + "/restart", {"action": f"{CIMI}/action/restart"})
                     .headers["CIMI-Job-URI"], timeout=30)
    assert job["state"] == "SUCCESS", job
    assert job["statusMessage"] == "the guest did not shut down within 3 s: powered off"
    again = observer.lookupByName(dom.name())                    # ID() is cached in a virDomain object
    assert again.isActive() and again.ID() != before             # a new boot, not a request ignored
    assert alice.get(machine["id"]).json["state"] == "STARTED"
