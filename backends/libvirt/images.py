"""Images made from Volumes: a VolumeImage is a standalone copy of a Volume.

The copy goes to the image pool through createXMLFrom (qemu-img convert on
QEMU hosts), so it reads through any backing chain and names no backing file.
"""
from backends.base import Conflict
from backends.libvirt import volumes, xml


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
