"""Machines on a private test-driver node: definition, ownership, states."""
import libvirt
import pytest
from lxml import etree

from backends import Conflict, NotFound, model
from backends.libvirt import designer, machines

MiB = 1 << 20


def _volumes(conn, pool="default-pool"):
    return {v.path() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)}


@pytest.fixture
def image(backend):
    return backend.create_image("base", 32 * MiB)


def _spec(name="m", **kw):
    return model.MachineSpec(name=name, cpu=2, memory_kib=131072, **kw)


def test_create_defines_the_spec(backend, conn, image):
    m = backend.create_machine(_spec(
        disks=[model.DiskSpec(8 * MiB, image.key), model.DiskSpec(4 * MiB, target="vdc")],
        nics=[model.NicSpec("default", mac="52:54:00:aa:bb:cc")]))
    assert (m.cpu, m.memory_kib, m.state) == (2, 131072, model.STOPPED)
    # The overlay is never smaller than the image it reads through.
    assert [(d.target, d.capacity_bytes) for d in m.disks] == [("vda", 32 * MiB), ("vdc", 4 * MiB)]
    assert m.nics == [model.NicInfo("default", "52:54:00:aa:bb:cc", designer.NIC_MODEL)]
    dom = conn.lookupByUUIDString(m.key)
    assert dom.name() == "m" and not dom.isActive()
    assert etree.fromstring(dom.XMLDesc(0)).find("devices/disk/target").get("bus") == "virtio"
    assert [x.key for x in backend.list_machines()] == [m.key]


def test_list_shows_only_this_clouds_machines(backend, conn):
    conn.defineXML("<domain type='test'><name>foreign</name><memory>65536</memory>"
                   "<os><type>hvm</type></os></domain>")
    m = backend.create_machine(_spec())
    assert [x.key for x in backend.list_machines()] == [m.key]


def test_failed_create_leaves_nothing_behind(backend, conn, image):
    before = _volumes(conn)
    with pytest.raises(NotFound):
        backend.create_machine(_spec(disks=[model.DiskSpec(MiB, image.key)],
                                     nics=[model.NicSpec("no-such-network")]))
    assert _volumes(conn) == before
    assert conn.listAllDomains(0) == []


def test_delete_removes_owned_disks_only(backend, conn, image):
    m = backend.create_machine(_spec(disks=[model.DiskSpec(MiB, image.key), model.DiskSpec(MiB)]))
    vol = backend.create_volume(model.VolumeSpec("data", MiB))
    backend.attach_volume(m.key, vol.key)
    backend.start_machine(m.key)
    backend.delete_machine(m.key)
    assert _volumes(conn) == {image.key, vol.key}   # the image and the Volume stay
    assert conn.listAllDomains(0) == []


def test_delete_falls_back_when_undefine_flags_are_unsupported(backend, conn):
    """The test driver rejects VIR_DOMAIN_UNDEFINE_NVRAM; delete still works."""
    m = backend.create_machine(_spec())
    dom = conn.lookupByUUIDString(m.key)
    with pytest.raises(libvirt.libvirtError):
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    backend.suspend_machine(backend.start_machine(m.key).key)
    backend.delete_machine(m.key)
    assert conn.listAllDomains(0) == []


@pytest.mark.parametrize("steps,action", [
    ([], "pause_machine"),
    ([], "suspend_machine"),
    ([], "restart_machine"),
    (["start_machine", "suspend_machine"], "pause_machine"),
])
def test_actions_invalid_in_a_state_conflict(backend, steps, action):
    m = backend.create_machine(_spec())
    for step in steps:
        getattr(backend, step)(m.key)
    with pytest.raises(Conflict):
        getattr(backend, action)(m.key)


@pytest.mark.parametrize("steps,action,expected,libvirt_state", [
    (["start_machine"], "start_machine", model.STARTED, libvirt.VIR_DOMAIN_RUNNING),
    ([], "stop_machine", model.STOPPED, libvirt.VIR_DOMAIN_SHUTOFF),
    (["start_machine"], "restart_machine", model.STARTED, libvirt.VIR_DOMAIN_RUNNING),
    (["start_machine", "pause_machine"], "pause_machine", model.PAUSED, libvirt.VIR_DOMAIN_PAUSED),
    (["start_machine", "pause_machine"], "stop_machine", model.STOPPED, libvirt.VIR_DOMAIN_SHUTOFF),
    (["start_machine", "pause_machine"], "suspend_machine", model.SUSPENDED,
     libvirt.VIR_DOMAIN_SHUTOFF),
])
def test_actions_from_a_state(backend, conn, steps, action, expected, libvirt_state):
    m = backend.create_machine(_spec())
    for step in steps:
        getattr(backend, step)(m.key)
    assert getattr(backend, action)(m.key).state == expected
    assert conn.lookupByUUIDString(m.key).state()[0] == libvirt_state


def test_stop_discards_a_suspended_machines_memory(backend, conn):
    m = backend.create_machine(_spec())
    backend.suspend_machine(backend.start_machine(m.key).key)
    assert backend.stop_machine(m.key).state == model.STOPPED
    assert conn.lookupByUUIDString(m.key).hasManagedSaveImage(0) == 0


@pytest.mark.parametrize("force", [False, True])
def test_restart_keeps_the_machine_running(backend, conn, force):
    m = backend.create_machine(_spec())
    backend.start_machine(m.key)
    assert backend.restart_machine(m.key, force=force).state == model.STARTED
    assert conn.lookupByUUIDString(m.key).isActive()


def test_force_stop_powers_off(backend, conn):
    m = backend.create_machine(_spec())
    backend.start_machine(m.key)
    assert backend.stop_machine(m.key, force=True).state == model.STOPPED
    assert not conn.lookupByUUIDString(m.key).isActive()


V = libvirt


@pytest.mark.parametrize("code,reason,managed_save,expected", [
    (V.VIR_DOMAIN_RUNNING, V.VIR_DOMAIN_RUNNING_BOOTED, 0, model.STARTED),
    (V.VIR_DOMAIN_BLOCKED, 0, 0, model.STARTED),
    (V.VIR_DOMAIN_PAUSED, V.VIR_DOMAIN_PAUSED_USER, 0, model.PAUSED),
    (V.VIR_DOMAIN_SHUTDOWN, V.VIR_DOMAIN_SHUTDOWN_USER, 0, model.STOPPING),
    (V.VIR_DOMAIN_SHUTOFF, V.VIR_DOMAIN_SHUTOFF_SHUTDOWN, 0, model.STOPPED),
    (V.VIR_DOMAIN_SHUTOFF, V.VIR_DOMAIN_SHUTOFF_DESTROYED, 0, model.STOPPED),
    (V.VIR_DOMAIN_SHUTOFF, V.VIR_DOMAIN_SHUTOFF_SAVED, 1, model.SUSPENDED),
    (V.VIR_DOMAIN_CRASHED, V.VIR_DOMAIN_CRASHED_PANICKED, 0, model.ERROR),
    (V.VIR_DOMAIN_PMSUSPENDED, 0, 0, model.SUSPENDED),
    (V.VIR_DOMAIN_NOSTATE, 0, 0, model.ERROR),
    # the guest in trouble: ERROR, with a reason
    (V.VIR_DOMAIN_PAUSED, V.VIR_DOMAIN_PAUSED_UNKNOWN, 0, model.ERROR),     # KVM emulation failure
    (V.VIR_DOMAIN_PAUSED, V.VIR_DOMAIN_PAUSED_CRASHED, 0, model.ERROR),
    (V.VIR_DOMAIN_PAUSED, V.VIR_DOMAIN_PAUSED_IOERROR, 0, model.ERROR),
    (V.VIR_DOMAIN_SHUTOFF, V.VIR_DOMAIN_SHUTOFF_CRASHED, 0, model.ERROR),
    (V.VIR_DOMAIN_SHUTOFF, V.VIR_DOMAIN_SHUTOFF_FAILED, 0, model.ERROR),
])
def test_state_table(code, reason, managed_save, expected):
    """cimi-reference section 11, incl. states the test driver cannot reach."""
    state, why = machines.machine_state(code, reason, managed_save)
    assert state == expected
    assert (why is not None) == (expected == model.ERROR)


def test_unknown_machine_is_not_found(backend):
    for call in (backend.machine, backend.start_machine, backend.stop_machine):
        with pytest.raises(NotFound):
            call("6f7e55c6-0000-0000-0000-000000000000")
    backend.delete_machine("6f7e55c6-0000-0000-0000-000000000000")
