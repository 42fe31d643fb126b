"""A machine kept for quarantine: undefined but its disks stay; restored with them; dropped for good."""
import json
import subprocess
import uuid

import pytest

from backends import NotFound, model

MiB = 1 << 20


def _volumes(conn, pool):
    return {v.path() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)}


def _machine(backend, image):
    m = backend.create_machine(model.MachineSpec(name=f"q-{uuid.uuid4().hex[:8]}", cpu=1, memory_kib=131072,
                                                 disks=[model.DiskSpec(MiB, image.key), model.DiskSpec(MiB)]))
    return m, {d.key for d in m.disks}


def test_keep_undefines_the_domain_and_keeps_its_disks_only(backend, conn):
    image = backend.create_image("base", 4 * MiB)
    m, disks = _machine(backend, image)
    vol = backend.create_volume(model.VolumeSpec("data", MiB))
    backend.attach_volume(m.key, vol.key)
    backend.start_machine(m.key)
    kept = backend.keep_machine(m.key)
    json.dumps(kept)                                          # plain data, stored as it is
    assert conn.listAllDomains(0) == []
    assert disks | {vol.key, image.key} <= _volumes(conn, backend.volume_pool)
    assert backend.volume_holders(vol.key) == []              # the Volume is released, as by a delete
    restored = backend.restore_machine(kept)
    assert (restored.key, restored.state) == (m.key, model.STOPPED)
    assert {d.key for d in restored.disks} == disks           # without the released Volume
    assert backend.restore_machine(kept).key == m.key         # idempotent
    backend.delete_machine(m.key)


def test_drop_removes_the_kept_disks(backend, conn):
    image = backend.create_image("base", 4 * MiB)
    m, disks = _machine(backend, image)
    kept = backend.keep_machine(m.key)
    backend.drop_machine(kept)
    assert not disks & _volumes(conn, backend.volume_pool)
    assert image.key in _volumes(conn, backend.volume_pool)
    backend.drop_machine(kept)                                # gone already: nothing to do
    with pytest.raises(NotFound):
        backend.keep_machine(m.key)


def _qemu_io(path, command):
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path], capture_output=True, text=True)


def _marked(path):
    """Whether the guest-visible first 64 KiB of a qcow2 disk hold the marker (qemu-io fails otherwise)."""
    read = _qemu_io(path, "read -P 0x5a 0 64k")
    return read.returncode == 0 and "Pattern verification failed" not in read.stdout


@pytest.mark.libvirtd
def test_kept_disk_bytes_come_back_and_go_on_the_real_libvirtd(tcg):
    """Write a marker into the data disk, keep, see the bytes in the pool, restore, boot, read it, drop."""
    b, observer, made = tcg
    image = b.create_image(f"q-base-{uuid.uuid4().hex[:8]}", 4 * MiB)
    made.append(("image", image.key))
    m, disks = _machine(b, image)
    data_disk = next(d.key for d in m.disks if d.target != "vda")
    written = _qemu_io(data_disk, "write -P 0x5a 0 64k")
    assert written.returncode == 0 and _marked(data_disk), written.stderr
    kept = b.keep_machine(m.key)
    with pytest.raises(Exception):
        observer.lookupByUUIDString(m.key)
    assert disks <= _volumes(observer, b.volume_pool)
    assert _marked(data_disk)
    restored = b.restore_machine(kept)
    assert b.start_machine(restored.key).state == model.STARTED
    assert {d.key for d in b.machine(m.key).disks} == disks
    b.stop_machine(m.key, force=True)
    assert _marked(data_disk)
    kept = b.keep_machine(m.key)
    b.drop_machine(kept)
    assert not disks & _volumes(observer, b.volume_pool)


# --- through the API, on the real libvirtd ---------------------------------------------------------

@pytest.mark.libvirtd
def test_a_machine_in_quarantine_keeps_its_disk_bytes_on_the_real_libvirtd(tcg_cloud, libvirtd):
    """Bytes written into the disk before the delete are there after restore and a boot; purge removes them.

    The Volume attached before the delete is attached again: the booted domain holds it.
    """
    import libvirt

    from cimi import naming
    from tests.api.test_quarantine import CIMI, DAY, attach, delete, entries, operate
    from tests.conftest import machine_body
    cloud, alice = tcg_cloud(quarantine_retention={"machines": DAY})
    m = alice.create("machines", machine_body(alice, "kept", initialState="STOPPED"))[1]
    data = alice.create("volumes", {"resourceURI": f"{CIMI}/VolumeCreate", "name": "data",
                                    "volumeTemplate": {"volumeConfig": {"capacity": 1024}}})[1]
    attach(alice, m, data)
    domain = naming.machine_name(m["id"].rsplit("/", 1)[-1])
    disks = [d.key for d in cloud.backend.machine(domain).disks if "cimi-volume-" not in d.key]
    assert _qemu_io(disks[0], "write -P 0x5a 0 64k").returncode == 0 and _marked(disks[0])
    delete(alice, m["id"])
    observer = libvirt.open(libvirtd)
    try:
        assert domain not in [d.name() for d in observer.listAllDomains(0)]
        pool = {v.path() for v in observer.storagePoolLookupByName(cloud.config.image_pool).listAllVolumes(0)}
        assert set(disks) <= pool and _marked(disks[0])
        [entry] = entries(alice)
        operate(alice, entry, "restore")
        started = alice.act(alice.get(m["id"]).json, "start")
        assert started["state"] == "STARTED"
        live = observer.lookupByName(domain).XMLDesc(0)                     # the running domain's disks
        assert data["id"].rsplit("/", 1)[-1] in live and alice.get(data["id"]).json["attachedTo"]["href"] == m["id"]
        stopped = alice.act(started, "stop", {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/stop",
                                              "force": True})
        assert stopped["state"] == "STOPPED" and _marked(disks[0])
        delete(alice, m["id"])
        operate(alice, entries(alice)[0], "purge")
        pool = {v.path() for v in observer.storagePoolLookupByName(cloud.config.image_pool).listAllVolumes(0)}
        assert not set(disks) & pool and entries(alice) == []
    finally:
        observer.close()


@pytest.mark.libvirtd
def test_a_volume_in_quarantine_keeps_its_bytes_on_the_real_libvirtd(tcg_cloud, libvirtd):
    import libvirt

    from tests.api.test_quarantine import CIMI, DAY, delete, entries, operate
    cloud, alice = tcg_cloud(quarantine_retention={"volumes": DAY})
    v = alice.create("volumes", {"resourceURI": f"{CIMI}/VolumeCreate", "name": "kept",
                                 "volumeTemplate": {"volumeConfig": {"capacity": 1024}}})[1]
    observer = libvirt.open(libvirtd)
    try:
        [path] = [vol.path() for vol in observer.storagePoolLookupByName(cloud.config.image_pool).listAllVolumes(0)
                  if v["id"].rsplit("/", 1)[-1] in vol.name()]
        assert _qemu_io(path, "write -P 0x5a 0 64k").returncode == 0
        delete(alice, v["id"])
        assert alice.get(v["id"]).status_code == 404 and _marked(path)
        operate(alice, entries(alice)[0], "restore")
        assert alice.get(v["id"]).json["state"] == "AVAILABLE" and _marked(path)
        delete(alice, v["id"])
        operate(alice, entries(alice)[0], "purge")
        assert path not in [vol.path() for vol in
                            observer.storagePoolLookupByName(cloud.config.image_pool).listAllVolumes(0)]
    finally:
        observer.close()
