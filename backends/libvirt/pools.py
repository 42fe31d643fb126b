"""Storage pools: the ones the backend is configured with, made when missing.

A fresh libvirtd has no pool at all. As virt-manager does on first use, a
missing pool is created as a directory pool (defined, built, started and
marked autostart), `default` at /var/lib/libvirt/images and any other name
in a directory of its own beneath it.
"""
import logging
import os

import libvirt

from backends.base import BackendError
from backends.libvirt import xml

LOG = logging.getLogger(__name__)
ROOT = "/var/lib/libvirt/images"          # virt-manager's "default" pool


def path(name, root=ROOT):
    """Return the directory a missing pool called name is created in."""
    return root if name == "default" else os.path.join(root, name)


def ensure(host, name, root=ROOT):
    """Make sure the pool exists on host; create it under root (None: refuse)."""
    if _lookup(host, name) is not None:
        host.pool(name)                                    # starts one that is only defined
        return
    if root is None:
        raise BackendError(f"storage pool {name!r} does not exist on {host.uri}; define it, "
                           "configure another pool, or let the server create it (no --no-create-pool)")
    conf = xml.StoragePool(type=xml.StoragePool.TYPE_DIR, name=name, target_path=path(name, root))
    try:
        pool = host.conn.storagePoolDefineXML(conf.to_xml(), 0)
    except libvirt.libvirtError:
        if _lookup(host, name) is None:                    # NOTE: another front end may just have made it
            raise
        return
    try:
        pool.build(0)                                      # a dir pool: mkdir -p
        pool.create(0)
        pool.setAutostart(1)
    except libvirt.libvirtError:
        pool.undefine()
        raise
    LOG.warning("storage pool %r did not exist on %s: created a directory pool at %s (autostart)",
                name, host.uri, conf.target_path)


def _lookup(host, name):
    try:
        return host.conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise
