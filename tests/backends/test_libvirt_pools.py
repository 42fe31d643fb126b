"""Missing storage pools: created as virt-manager would, or refused by option."""
import logging
import os
import shutil
import tempfile
import uuid

import libvirt
import pytest

from backends import BackendError
from backends.libvirt import LibvirtBackend, pools
from backends.libvirt.xml import StoragePool


def test_default_pool_lives_where_virt_manager_puts_it():
    assert pools.path("default") == "/var/lib/libvirt/images"
    assert pools.path("cloud") == "/var/lib/libvirt/images/cloud"


def test_missing_pool_is_refused_when_creation_is_off(node_uri):
    with pytest.raises(BackendError, match="storage pool 'nope' does not exist.*--no-create-pool"):
        LibvirtBackend(node_uri, image_pool="nope", create_pools=False)


@pytest.mark.libvirtd
def test_missing_pool_is_created_started_and_autostarted(libvirtd, caplog):
    name = "dsc-pool-" + uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="dsc-pools-", dir="/var/tmp")
    observer = libvirt.open(libvirtd)
    try:
        with pytest.raises(BackendError, match=f"storage pool '{name}' does not exist"):
            LibvirtBackend(libvirtd, image_pool=name, create_pools=False)
        with pytest.raises(libvirt.libvirtError):
            observer.storagePoolLookupByName(name)          # the refusal made nothing
        with caplog.at_level(logging.WARNING, logger="backends.libvirt.pools"):
            backend = LibvirtBackend(libvirtd, image_pool=name, pool_root=root)
        pool = observer.storagePoolLookupByName(name)
        assert pool.isActive() and pool.autostart() and pool.isPersistent()
        conf = StoragePool.parse(pool.XMLDesc(0))
        assert (conf.type, conf.target_path) == ("dir", os.path.join(root, name))
        assert os.path.isdir(os.path.join(root, name))
        assert f"storage pool '{name}' did not exist" in caplog.text and os.path.join(root, name) in caplog.text
        image = backend.create_image("in-new-pool", 1 << 20)
        assert image.key.startswith(os.path.join(root, name) + "/")
        backend.delete_image(image.key)
        backend.close()
        again = LibvirtBackend(libvirtd, image_pool=name, pool_root=root)    # a second start finds it
        again.close()
        assert len([p for p in observer.listAllStoragePools(0) if p.name() == name]) == 1
    finally:
        try:
            pool = observer.storagePoolLookupByName(name)
            pool.destroy()
            pool.undefine()
        except libvirt.libvirtError:
            pass
        observer.close()
        shutil.rmtree(root)
