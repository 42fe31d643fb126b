"""Images and Volumes: storage-pool volumes, uploads, clones and attachment.

Images (MachineImage/VolumeImage bytes) live in the image pool, Volumes and
machine overlays in the volume pool; a key is a volume's libvirt key (its
path, for directory pools).
"""
import logging
import os
import time

import libvirt

from backends import model
from backends.base import BackendError, Conflict
from backends.libvirt import designer, xml
from backends.libvirt.host import is_unsupported

CHUNK = 1 << 20        # upload stream chunk: 1 MiB
POLL_SECONDS = 0.2     # how often a detach looks whether the guest released the disk
_VIEWS = (libvirt.VIR_DOMAIN_XML_INACTIVE, 0)      # the persistent definition, then the live one
LOG = logging.getLogger(__name__)


def image_info(host, vol):
    conf = xml.StorageVolume.parse(vol.XMLDesc(0))
    return model.ImageInfo(key=vol.key(), capacity_bytes=conf.capacity,
                           format=conf.target_format or xml.StorageVolume.FORMAT_RAW,
                           host=host.name)


def volume_info(host, vol):
    image = image_info(host, vol)
    return model.VolumeInfo(key=image.key, capacity_bytes=image.capacity_bytes,
                            format=image.format, host=host.name)


def create_image(host, pool_name, name, capacity, source_path=None, source_format=None):
    """Create a blank image, or one holding a local file's bytes verbatim.

    The file is streamed through libvirt (virStorageVolUpload), so this also
    works for a remote libvirtd; its format is declared, never probed (a
    probed format lets a raw guest disk pose as qcow2 with a backing file).
    """
    pool = host.pool(pool_name)
    vol = host.volume_in(pool, name)
    if vol is not None:
        return image_info(host, vol)
    if source_path is None:
        vol = pool.createXML(designer.blank_volume(name, capacity).to_xml(), 0)
        return image_info(host, vol)
    if source_format not in xml.StorageVolume.FORMATS:
        raise BackendError(f"source_format must be one of {xml.StorageVolume.FORMATS}, "
                           f"not {source_format!r}")
    size = os.path.getsize(source_path)
    conf = designer.blank_volume(name, max(capacity, size), source_format)
    vol = pool.createXML(conf.to_xml(), 0)
    if host.uri.startswith("test:"):
        # NOTE: the test driver keeps no bytes and cannot upload; its volume stands for
        # the image as every other test-driver object stands for a real one.
        return image_info(host, vol)
    try:
        _upload(host, vol, source_path, size)
        host.refresh_pool(pool)    # re-read the capacity a qcow2 header declares
        vol = pool.storageVolLookupByName(name)
        _refuse_backing_file(vol)
    except Exception as exc:
        host.delete_volume(vol)
        if isinstance(exc, libvirt.libvirtError) and is_unsupported(exc):
            raise BackendError(f"{host.uri} cannot upload image bytes: {exc}") from exc
        raise
    return image_info(host, vol)


def _refuse_backing_file(vol):
    """Refuse an uploaded qcow2 that names a backing file.

    APPSEC: QEMU follows the backing chain of a disk's base image, so an
    image pointing at, say, /etc/shadow would hand host files to the guest.
    """
    backing = xml.StorageVolume.parse(vol.XMLDesc(0)).backing_path
    if backing:
        raise BackendError(f"an uploaded image may not have a backing file ({backing})")


def _upload(host, vol, path, size):
    stream = host.new_stream()
    vol.upload(stream, 0, size, 0)
    try:
        with open(path, "rb") as source:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                stream.send(chunk)
        stream.finish()
    except BaseException:
        stream.abort()
        raise


def _copy(pool, name, source, capacity):
    """Copy source's content into a new qcow2 volume of at least capacity.

    createXMLFrom converts through the backing chain (qemu-img convert), so
    the copy no longer depends on the source's base image.
    """
    conf = designer.copy_volume(name, max(capacity, source.info()[1]))
    return pool.createXMLFrom(conf.to_xml(), source, 0)


def delete_image(host, key):
    """Delete an image unless an overlay still reads through it."""
    _delete_unused(host, key, _overlays_of, "is the backing store of")


def _delete_unused(host, key, users_of, relation):
    """Delete a volume unless users_of(host, path) names someone; gone is fine."""
    vol = host.volume_or_none(key)
    if vol is None:
        return
    users = users_of(host, vol.path())
    if users:
        raise Conflict(f"{key} {relation} {', '.join(users)}")
    host.delete_volume(vol)


def _overlays_of(host, path):
    found = []
    for pool in host.conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        try:
            vols = pool.listAllVolumes(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise                              # NOTE: a pool removed while we list holds no overlay
            continue
        for vol in vols:
            try:
                if xml.StorageVolume.parse(vol.XMLDesc(0)).backing_path == path:
                    found.append(vol.name())
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                    raise                          # NOTE: one deleted while we list is not an overlay
    return found


def create_volume(host, pool_name, spec):
    """Create a blank qcow2 volume, or a full copy of an image's content."""
    pool = host.pool(pool_name)
    vol = host.volume_in(pool, spec.name)
    if vol is not None:
        return volume_info(host, vol)
    if spec.image_key is None:
        vol = pool.createXML(designer.blank_volume(spec.name, spec.capacity_bytes).to_xml(), 0)
    else:
        vol = _copy(pool, spec.name, host.volume(spec.image_key), spec.capacity_bytes)
    return volume_info(host, vol)


def delete_volume(host, key):
    """Delete a volume unless a machine still has it attached (live or in its definition)."""
    _delete_unused(host, key, _machines_using, "is attached to")


def discard_volume(host, pool_name, name):
    """Delete the volume called name in the pool, unless a machine uses it; none is fine."""
    vol = host.volume_in(host.pool(pool_name), name)
    if vol is not None:
        delete_volume(host, vol.key())


def holders(host, key):
    """Name the domains whose persistent or live definition holds the volume."""
    vol = host.volume_or_none(key)
    return _machines_using(host, vol.path() if vol is not None else key)


def _machines_using(host, path):
    return [d.name() for d in host.domains() if any(path in _disks_or_none(d, flags) for flags in _VIEWS)]


def _disks_or_none(dom, flags=libvirt.VIR_DOMAIN_XML_INACTIVE):
    """The disk paths of a domain; none when it vanished while we looked (a concurrent delete)."""
    try:
        return _disks(dom, flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
        return {}


def _disks(dom, flags=libvirt.VIR_DOMAIN_XML_INACTIVE):
    return xml.disk_elements(dom.XMLDesc(flags))[1]


def _device_flags(dom):
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    return flags


def attach(host, dom, key, target=None, bus=None):
    """Attach a volume (live too when running) on `bus` (None: its target's); return its target device."""
    vol = host.volume(key)
    attached = _disks(dom)
    if vol.path() in attached:                      # a replayed Job
        return attached[vol.path()].find("target").get("dev")
    conf = xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    used = [d.target_dev for d in conf.disks]
    if target in used:
        raise Conflict(f"{target} is taken on {dom.name()} (its disks: {', '.join(used)}); "
                       "give another initialLocation or none")
    target = target or designer.disk_targets(1, used=used, buses=[bus])[0]
    fmt = xml.StorageVolume.parse(vol.XMLDesc(0)).target_format
    disk = designer.disk(vol.path(), target, fmt or xml.StorageVolume.FORMAT_RAW, bus)
    if disk.target_bus in designer.COLD_PLUG_BUSES and dom.isActive():
        raise Conflict(f"a disk on the {disk.target_bus} bus ({target}) cannot be added to a running machine; "
                       "stop it first")
    for controller in designer.controllers([disk]):
        if not any(c.type == controller.type for c in conf.controllers):
            _attach_device(host, dom, controller)
    _attach_device(host, dom, disk)
    return target


def _attach_device(host, dom, device):
    """Add a device to the definition, and to the running domain when it runs."""
    try:
        dom.attachDeviceFlags(device.to_xml(), _device_flags(dom))
    except libvirt.libvirtError as exc:
        _redefine_or_raise(host, dom, exc, lambda text: xml.with_device(text, device))


def detach(host, dom, key, timeout=30.0):
    """Detach a volume; detaching one that is not attached succeeds.

    A running guest must release the device first (PCI unplug needs its
    cooperation): the live detach is asked for and its completion awaited in
    the live XML; only then does the persistent definition lose the disk. A
    guest that keeps it past `timeout` leaves the attachment whole and the
    call fails (Conflict).
    """
    path = _path(host, key)
    if dom.isActive() and path in _disks(dom, 0):
        try:
            dom.detachDeviceFlags(xml.element_xml(_disks(dom, 0)[path]), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as exc:
            if not is_unsupported(exc):
                # NOTE: QEMU refuses a second unplug request while the first one waits
                # for the guest (a retried Job): wait for that one.
                _await_release(dom, path, timeout, exc)
            else:
                LOG.warning("%s cannot hot-unplug; %s changes at its next boot", host.uri, dom.name())
        else:
            _await_release(dom, path, timeout)
    element = _disks(dom).get(path)
    if element is None:
        return
    try:
        dom.detachDeviceFlags(xml.element_xml(element), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    except libvirt.libvirtError as exc:
        _redefine_or_raise(host, dom, exc, lambda text: xml.without_disk(text, path))


def _path(host, key):
    vol = host.volume_or_none(key)
    return vol.path() if vol is not None else key


def _await_release(dom, path, timeout, refusal=None):
    """Wait until the live domain no longer lists the disk; Conflict after timeout."""
    deadline = time.monotonic() + timeout
    while path in _disks_or_none(dom, 0):
        if time.monotonic() >= deadline:
            why = f" ({refusal.get_error_message()})" if refusal is not None else ""
            raise Conflict(f"the guest of {dom.name()} did not release {path} within {timeout:g} s{why}; "
                           "it stays attached (a guest without PCI hot-unplug support never lets go)")
        time.sleep(POLL_SECONDS)


def attachment(host, dom, key):
    """Make the persistent definition agree with the running domain about one volume.

    Return its target device when the machine holds it, else None. A running
    guest is the authority (it has the disk or not, whatever an interrupted
    attach or detach left in the definition); a stopped machine's definition is.
    """
    path = _path(host, key)
    persistent = _disks(dom).get(path)
    if not dom.isActive():
        return persistent.find("target").get("dev") if persistent is not None else None
    live = _disks_or_none(dom, 0).get(path)
    try:
        if live is None and persistent is not None:
            LOG.warning("%s lost %s while running; removing it from the definition too", dom.name(), path)
            dom.detachDeviceFlags(xml.element_xml(persistent), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        elif live is not None and persistent is None:
            LOG.warning("%s holds %s while running; adding it to the definition again", dom.name(), path)
            dom.attachDeviceFlags(xml.element_xml(_config_disk(live)), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    except libvirt.libvirtError as exc:
        if not is_unsupported(exc):
            raise
        live = persistent                   # NOTE: a driver without hot-plug: the definition is the truth
    return live.find("target").get("dev") if live is not None else None


def _config_disk(live):
    """A live <disk> as a definition takes it (without the run-time alias)."""
    for alias in live.findall("alias"):
        live.remove(alias)
    return live


def _redefine_or_raise(host, dom, exc, edit):
    """Edit the persistent definition when the driver cannot hot-plug.

    NOTE: the test driver (the server's embedded default) implements no
    attach/detach at all. Redefining the edited XML has the same effect on a
    stopped domain; on a running one the change waits for the next boot.
    """
    if not is_unsupported(exc):
        raise exc
    if dom.isActive():
        LOG.warning("%s cannot hot-plug; %s changes at its next boot", host.uri, dom.name())
    host.conn.defineXML(edit(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
