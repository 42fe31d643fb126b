"""Config objects for libvirt XML; see `base` for the mechanism."""
from backends.libvirt.xml.base import DevError, XMLObject  # noqa: F401
from backends.libvirt.xml.capabilities import Capabilities  # noqa: F401
from backends.libvirt.xml.domain import (  # noqa: F401
    METADATA_NS, Console, Controller, Disk, Domain, Graphics, Interface, OwnedVolume, Ownership, Serial,
    disk_elements, element_xml, with_device, without_disk)
from backends.libvirt.xml.network import Network  # noqa: F401
from backends.libvirt.xml.snapshot import DomainSnapshot, SnapshotDisk  # noqa: F401
from backends.libvirt.xml.storage import StoragePool, StorageVolume  # noqa: F401
