"""Machines: libvirt domains, their owned overlay disks and their states.

Every function takes the `Host` that holds the domain and returns
`backends.model` objects; errors are translated by the caller's `translate`.
"""
import tempfile
import time

import libvirt

from backends import model
from backends.base import Conflict
from backends.libvirt import configdrive, designer, volumes, xml
from backends.libvirt.host import is_unsupported

# cimi-reference section 11; SHUTOFF is refined by hasManagedSaveImage.
_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: model.ERROR,
    libvirt.VIR_DOMAIN_RUNNING: model.STARTED,
    libvirt.VIR_DOMAIN_BLOCKED: model.STARTED,
    libvirt.VIR_DOMAIN_PAUSED: model.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: model.STOPPING,
    libvirt.VIR_DOMAIN_SHUTOFF: model.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: model.ERROR,
    libvirt.VIR_DOMAIN_PMSUSPENDED: model.SUSPENDED,
}
# Tried in order: drivers that lack a flag (the test driver has no NVRAM)
# reject the whole call, so fall back to fewer flags.
_UNDEFINE_FLAGS = [
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
    0,
]
POLL_SECONDS = 0.1


def machine_state(code, has_managed_save):
    """Map a virDomainState code (and the managed-save flag) to a Machine state."""
    if code == libvirt.VIR_DOMAIN_SHUTOFF and has_managed_save:
        return model.SUSPENDED
    return _STATES.get(code, model.ERROR)


def state(dom):
    """Return the Machine state of a domain, read from libvirt."""
    code, _reason = dom.state(0)
    return machine_state(code, code == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0))


def info(host, dom):
    """Describe a domain as a MachineInfo (disks sized from their volumes).

    The persistent definition is what a Machine is; the live one equals it
    except while a change waits for the next boot.
    """
    conf = xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    disks = []
    for disk in conf.disks:
        if disk.device != xml.Disk.DEVICE_DISK or not disk.source_file:
            continue
        vol = host.volume_or_none(disk.source_file)
        disks.append(model.DiskInfo(key=vol.key() if vol else disk.source_file,
                                    capacity_bytes=vol.info()[1] if vol else 0,
                                    target=disk.target_dev))
    nics = [model.NicInfo(network_key=i.source_network, mac=i.mac, model=i.model) for i in conf.interfaces]
    return model.MachineInfo(key=dom.UUIDString(), state=state(dom), cpu=conf.vcpu,
                             memory_kib=conf.memory, disks=disks, nics=nics, host=host.name, name=dom.name())


def is_ours(dom):
    """Tell whether this cloud defined the domain (it carries our metadata)."""
    return bool(xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).ownership)


def create(host, pool_name, spec):
    """Define a stopped machine; its disks are volumes it owns in the pool."""
    existing = host.domain_by_name(spec.name)
    if existing is not None:
        return info(host, existing)
    pool = host.pool(pool_name)
    targets = designer.disk_targets(len(spec.disks), [d.target for d in spec.disks])
    created, disks = [], []
    try:
        for disk_spec, target in zip(spec.disks, targets):
            vol, new = _disk_volume(host, pool, designer.volume_name(spec.name, target), disk_spec)
            if new:
                created.append(vol)
            disks.append(designer.disk(vol.path(), target))
        if spec.user_data or spec.ssh_keys:
            drive = _config_drive(host, pool_name, spec)
            created.append(drive)
            disks.append(designer.cdrom(drive.path()))
        nics = [designer.interface(host.network(n.network_key).name(), n.mac, n.model) for n in spec.nics]
        conf = designer.domain(spec.name, host.domain_type(), spec.cpu, spec.memory_kib,
                               disks, nics, owned=[d.source_file for d in disks])
        dom = host.conn.defineXML(conf.to_xml())
    except Exception:
        for vol in created:      # NOTE: leave nothing behind a failed create
            host.delete_volume(vol)
        raise
    return info(host, dom)


def _config_drive(host, pool_name, spec):
    """Upload the machine's cloud-init config drive into the pool; return its volume."""
    data = configdrive.build(spec.name, spec.name, spec.user_data, spec.ssh_keys)
    with tempfile.NamedTemporaryFile(suffix=".iso") as iso:
        iso.write(data)
        iso.flush()
        image = volumes.create_image(host, pool_name, f"{spec.name}-cidata.iso", len(data),
                                     source_path=iso.name, source_format="raw")
    return host.volume(image.key)


def _disk_volume(host, pool, name, disk_spec):
    """Return (volume, created): an overlay on the image, or a blank disk."""
    vol = host.volume_in(pool, name)
    if vol is not None:
        return vol, False
    if disk_spec.image_key:
        image = host.volume(disk_spec.image_key)
        image_conf = xml.StorageVolume.parse(image.XMLDesc(0))
        capacity = max(disk_spec.capacity_bytes, image_conf.capacity)
        conf = designer.overlay_volume(name, capacity, image.path(), image_conf.target_format)
    else:
        conf = designer.blank_volume(name, disk_spec.capacity_bytes)
    return pool.createXML(conf.to_xml(), 0), True


def start(host, dom):
    """Boot, resume (PAUSED) or restore (SUSPENDED); no-op when STARTED."""
    current = state(dom)
    if current == model.PAUSED:
        dom.resume()
    elif current in (model.STOPPED, model.SUSPENDED):
        dom.create()       # restores the managed save image when there is one
    elif current != model.STARTED:
        raise Conflict(f"cannot start a machine that is {current}")
    return info(host, dom)


def stop(host, dom, force=False, timeout=60.0):
    """Shut down gracefully, power off after timeout; force powers off."""
    current = state(dom)
    if current == model.SUSPENDED:
        dom.managedSaveRemove(0)           # a stopped machine keeps no memory
    elif current in (model.STARTED, model.STOPPING) and not force:
        dom.shutdown()
        deadline = time.monotonic() + timeout
        while dom.isActive() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
    if dom.isActive():
        dom.destroy()
    return info(host, dom)


def restart(host, dom, force=False):
    """Reboot via the guest, or reset (destroy + create where unsupported)."""
    if state(dom) != model.STARTED:
        raise Conflict("only a STARTED machine can be restarted")
    if not force:
        dom.reboot(0)
        return info(host, dom)
    try:
        dom.reset(0)
    except libvirt.libvirtError as exc:
        if not is_unsupported(exc):
            raise
        dom.destroy()
        dom.create()
    return info(host, dom)


def pause(host, dom):
    """Freeze the vCPUs, memory kept in RAM."""
    current = state(dom)
    if current == model.STARTED:
        dom.suspend()
    elif current != model.PAUSED:
        raise Conflict(f"cannot pause a machine that is {current}")
    return info(host, dom)


def suspend(host, dom):
    """Save memory to disk (managed save) and stop the domain."""
    current = state(dom)
    if current in (model.STARTED, model.PAUSED):
        dom.managedSave(0)
    elif current != model.SUSPENDED:
        raise Conflict(f"cannot suspend a machine that is {current}")
    return info(host, dom)


def delete(host, dom):
    """Destroy, undefine (with managed save, snapshots, NVRAM) and reap disks."""
    owned = xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).owned_volumes()
    if dom.isActive():
        dom.destroy()
    for flags in _UNDEFINE_FLAGS:
        try:
            dom.undefineFlags(flags)
            break
        except libvirt.libvirtError as exc:
            if not is_unsupported(exc) or flags == 0:
                raise
    for key in owned:
        vol = host.volume_or_none(key)
        if vol is not None:
            host.delete_volume(vol)


def reap_volumes(host, pool_name, machine_name):
    """Remove the volumes named after a machine whose domain is already gone.

    A crash between undefining a domain and deleting its disks (or between
    creating a disk and defining the domain) leaves them behind; their names
    (`designer.volume_name`, the config drive) still say whose they are.
    """
    pool = host.pool(pool_name)
    for vol in pool.listAllVolumes(0):
        if vol.name().startswith(f"{machine_name}-"):
            host.delete_volume(vol)


def root_volume(host, dom):
    """Return the volume of the boot disk (the first disk)."""
    conf = xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    disks = [d for d in conf.disks if d.device == xml.Disk.DEVICE_DISK and d.source_file]
    if not disks:
        raise Conflict("the machine has no disk to capture")
    return host.volume(disks[0].source_file)
