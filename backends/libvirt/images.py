"""Images made from Volumes and Machines: standalone copies in the image pool.

A VolumeImage is a copy of a Volume, a captured MachineImage a copy of a
Machine's root disk. Copies go through createXMLFrom (qemu-img convert on
QEMU hosts), so they read through any backing chain and name no backing file.
"""
import time

import libvirt

from backends import model
from backends.base import BackendError, Conflict
from backends.libvirt import designer, machines, volumes, xml

BLOCK_JOB_TIMEOUT = 300.0       # seconds for the commit of a capture's temporary overlay
POLL_SECONDS = 0.05
CAPTURE_SNAPSHOT_FLAGS = (libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
                          | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)


def snapshot_volume(host, pool_name, vol, name):
    """Copy vol into a new image called name; an existing image of that name is returned (replayed Job)."""
    pool = host.pool(pool_name)
    image = host.volume_in(pool, name)
    if image is None:
        busy = running_users(host, vol.path())
        if busy:
            raise Conflict(f"{vol.key()} is in use by running machine(s) {', '.join(busy)}; "
                           "stop them or detach it before a snapshot")
        image = volumes._copy(pool, name, vol, 0)
    return volumes.image_info(host, image)


def running_users(host, path):
    """Names of the active domains that have path as a disk (their writes would tear the copy)."""
    return [dom.name() for dom in host.domains()
            if dom.isActive() and path in [d.source_file for d in xml.Domain.parse(dom.XMLDesc(0)).disks]]


def capture(host, pool_name, dom, name):
    """Copy a machine's root disk into a standalone image called name (returned as is when it exists).

    A STOPPED machine gives a clean image; a STARTED or PAUSED one a
    crash-consistent image taken while the guest runs on (`_capture_running`).
    """
    current = machines.state(dom)
    if current not in (model.STOPPED, model.STARTED, model.PAUSED):
        raise Conflict(f"capture needs a STOPPED, STARTED or PAUSED machine, not {current}")
    pool = host.pool(pool_name)
    image = host.volume_in(pool, name)
    if image is None:
        source = machines.root_volume(host, dom)
        # NOTE: the test driver keeps no bytes and has no external snapshots: a copy stands for it.
        if current == model.STOPPED or host.uri.startswith("test:"):
            image = volumes._copy(pool, name, source, 0)
        else:
            image = _capture_running(host, pool, dom, source, name)
    return volumes.image_info(host, image)


def _capture_running(host, pool, dom, source, name):
    """Copy the root disk of a running domain without stopping it.

    An external disk-only snapshot freezes the root overlay (the guest writes
    to a temporary overlay on top of it meanwhile); the frozen overlay is
    copied, flattened through its backing chain; an active block commit then
    folds the temporary overlay back and pivots, so the live disk is the
    original overlay again. No guest agent quiesces the file systems: the
    image is what a power cut would have left on the disk.
    """
    live = xml.Domain.parse(dom.XMLDesc(0))
    targets = [d.target_dev for d in live.disks]
    root = next(d.target_dev for d in live.disks if d.source_file == source.path())
    persistent = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    overlay = f"{source.path()}.{name}.capture"
    dom.snapshotCreateXML(designer.capture_snapshot(name, targets, root, overlay).to_xml(), CAPTURE_SNAPSHOT_FLAGS)
    try:
        return volumes._copy(pool, name, source, 0)
    finally:
        _commit_active(dom, root)
        if _root_source(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), root) != source.path():
            host.conn.defineXML(persistent)          # the definition names the original overlay again
        _delete_file(host, source, overlay)


def _commit_active(dom, target):
    """Fold the active top overlay of a disk into its backing file and pivot back to that file."""
    dom.blockCommit(target, None, None, 0,
                    libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE | libvirt.VIR_DOMAIN_BLOCK_COMMIT_SHALLOW)
    deadline = time.monotonic() + BLOCK_JOB_TIMEOUT
    while True:
        info = dom.blockJobInfo(target, 0)
        if info and info["end"] and info["cur"] == info["end"]:
            try:
                dom.blockJobAbort(target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                return
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_BLOCK_COPY_ACTIVE:
                    raise              # NOTE: "not ready yet" (the READY event still to come) is retried
        if time.monotonic() > deadline:
            raise BackendError(f"the commit of {target} after a capture did not finish in {BLOCK_JOB_TIMEOUT} s")
        time.sleep(POLL_SECONDS)


def _root_source(domain_xml, target):
    return next((d.source_file for d in xml.Domain.parse(domain_xml).disks if d.target_dev == target), None)


def _delete_file(host, source, path):
    """Delete the capture's temporary overlay, a file libvirt made beside the source volume."""
    pool = source.storagePoolLookupByVolume()
    pool.refresh(0)
    vol = host.volume_or_none(path)
    if vol is not None:
        host.delete_volume(vol)
