"""Storage XML: <pool> and <volume> (https://libvirt.org/formatstorage.html)."""
from backends.libvirt.xml.base import Prop, XMLObject


class StoragePool(XMLObject):
    """<pool type='dir'>: a directory of volume files."""
    TAG = "pool"
    TYPE_DIR = "dir"
    type = Prop("@type")
    name = Prop("name")
    uuid = Prop("uuid")
    capacity = Prop("capacity", int)
    allocation = Prop("allocation", int)
    available = Prop("available", int)
    target_path = Prop("target/path")


class StorageVolume(XMLObject):
    """<volume>: an image or disk file, optionally a copy-on-write overlay.

    backing_path/backing_format make the volume a qcow2 overlay whose reads
    fall through to the backing image (formatstorage "backingStore").
    """
    TAG = "volume"
    FORMAT_QCOW2, FORMAT_RAW = "qcow2", "raw"
    FORMATS = [FORMAT_QCOW2, FORMAT_RAW]

    type = Prop("@type")
    name = Prop("name")
    key = Prop("key")
    capacity = Prop("capacity", int)
    capacity_unit = Prop("capacity/@unit")
    allocation = Prop("allocation", int)
    allocation_unit = Prop("allocation/@unit")
    target_path = Prop("target/path")
    target_format = Prop("target/format/@type")
    backing_path = Prop("backingStore/path")
    backing_format = Prop("backingStore/format/@type")
