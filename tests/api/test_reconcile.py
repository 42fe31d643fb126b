"""Reconciliation with libvirt: outside changes show in the API, orphans are removed."""
import libvirt

from backends import model
from cimi import naming
from cimi.ops.reconcile import reconcile
from tests.conftest import machine_body


def domain_of(libvirt_conn, machine):
    return libvirt_conn.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))


def test_machine_stopped_from_outside_shows_stopped(cloud, alice, libvirt_conn):
    _, machine = alice.create("machines", machine_body(alice))
    domain_of(libvirt_conn, machine).destroy()
    assert reconcile(cloud) == (1, 0)
    assert alice.get(machine["id"]).json["state"] == "STOPPED"
    assert reconcile(cloud) == (0, 0)                      # a second pass finds nothing to do


def test_machine_deleted_from_outside_shows_its_loss(cloud, alice, libvirt_conn):
    _, machine = alice.create("machines", machine_body(alice))
    dom = domain_of(libvirt_conn, machine)
    dom.destroy()
    dom.undefine()
    reconcile(cloud)
    machine = alice.get(machine["id"]).json
    assert machine["state"] == "ERROR"
    assert "delete" in {o["rel"] for o in machine["operations"]}
    resp = alice.delete(machine["id"])                     # and it can still be cleaned up
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def test_orphan_domain_is_removed_and_others_are_left(cloud, alice, libvirt_conn):
    _, machine = alice.create("machines", machine_body(alice))
    image = cloud.backend.create_image("orphan-base", 2 ** 20)
    orphan = naming.machine_name("0123456789abcdef")
    elsewhere = "cimi-othercloud-0123456789abcdef"        # another cloud's, on the same host
    for name in (orphan, elsewhere):
        cloud.backend.create_machine(model.MachineSpec(name=name, cpu=1, memory_kib=65536,
                                                       disks=[model.DiskSpec(2 ** 20, image_key=image.key)]))
    assert reconcile(cloud) == (0, 1)
    names = {d.name() for d in libvirt_conn.listAllDomains()}
    assert orphan not in names and elsewhere in names
    assert domain_of(libvirt_conn, machine).state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_a_job_finishing_during_the_pass_is_not_undone(cloud, alice, libvirt_conn):
    """The listing is older than a Job that finishes meanwhile: the Machine keeps the Job's state.

    (After a restart, recovered create Jobs and the first pass run together; a
    healthy Machine flipped to ERROR or STOPPED and back for a pass.)
    """
    from cimi import store
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    machine_id = machine["id"].rsplit("/", 1)[-1]
    listing = cloud.backend.list_machines

    def listed_then_started():
        found = listing()
        domain_of(libvirt_conn, machine).create()         # a start Job finishing after the listing
        store.set_state("Machine", machine_id, "STARTED")
        return found
    cloud.backend.list_machines = listed_then_started
    assert reconcile(cloud) == (0, 0)
    assert alice.get(machine["id"]).json["state"] == "STARTED"
    del cloud.backend.list_machines
    assert reconcile(cloud) == (0, 0)
