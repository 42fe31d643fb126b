"""Snapshot XML: <domainsnapshot> (https://libvirt.org/formatsnapshot.html)."""
from backends.libvirt.xml.base import Children, Prop, XMLObject


class SnapshotDisk(XMLObject):
    """<disk name='vda' snapshot='external'>: what a snapshot does to one disk."""
    TAG = "disk"
    EXTERNAL, NO = "external", "no"
    name = Prop("@name")
    snapshot = Prop("@snapshot")
    driver_type = Prop("driver/@type")
    source_file = Prop("source/@file")


class DomainSnapshot(XMLObject):
    """<domainsnapshot>: a snapshot request, one entry per disk of the domain."""
    TAG = "domainsnapshot"
    name = Prop("name")
    description = Prop("description")
    disks = Children(SnapshotDisk, "disks")
