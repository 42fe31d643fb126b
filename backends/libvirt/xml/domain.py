"""Domain XML: <domain> and the devices this cloud uses.

Element and attribute names follow https://libvirt.org/formatdomain.html.
"""
from lxml import etree

from backends.libvirt.xml.base import PRESENT, Children, Prop, XMLObject

# Our own metadata namespace (formatdomain "General metadata"). A URN, not a
# URL, so that element paths never contain a "/" inside a namespace.
METADATA_NS = "urn:darn-simple-cloud:libvirt:1"


def _md(tag):
    return "{%s}%s" % (METADATA_NS, tag)


class OwnedVolume(XMLObject):
    """A volume key the machine owns: deleted with the machine."""
    TAG = _md("volume")
    key = Prop(".")


class Ownership(XMLObject):
    """<metadata><dsc:machine> recording what deleting the machine removes."""
    TAG = _md("machine")
    NSMAP = {"dsc": METADATA_NS}
    volumes = Children(OwnedVolume)


class Disk(XMLObject):
    """<disk>: one block device backed by a file (a pool volume's path)."""
    TAG = "disk"
    TYPE_FILE = "file"
    DEVICE_DISK, DEVICE_CDROM = "disk", "cdrom"
    DEVICES = [DEVICE_DISK, DEVICE_CDROM]

    type = Prop("@type")
    device = Prop("@device")
    driver_name = Prop("driver/@name")
    driver_type = Prop("driver/@type")
    driver_cache = Prop("driver/@cache")
    driver_discard = Prop("driver/@discard")
    source_file = Prop("source/@file")
    target_dev = Prop("target/@dev")
    target_bus = Prop("target/@bus")
    readonly = Prop("readonly", PRESENT)
    serial = Prop("serial")


class Controller(XMLObject):
    """<controller>: a bus disks sit on (here: the SCSI HBA's model)."""
    TAG = "controller"
    type = Prop("@type")
    index = Prop("@index", int)
    model = Prop("@model")


class Interface(XMLObject):
    """<interface type='network'>: a NIC on a libvirt virtual network."""
    TAG = "interface"
    type = Prop("@type")
    mac = Prop("mac/@address")
    source_network = Prop("source/@network")
    model = Prop("model/@type")


class Serial(XMLObject):
    """<serial type='pty'>: a serial port, its output copied to a log file."""
    TAG = "serial"
    type = Prop("@type")
    log_file = Prop("log/@file")
    log_append = Prop("log/@append", "onoff")
    target_port = Prop("target/@port", int)


class Console(XMLObject):
    """<console>: the domain's console, here the first serial port."""
    TAG = "console"
    type = Prop("@type")
    target_type = Prop("target/@type")
    target_port = Prop("target/@port", int)


class Graphics(XMLObject):
    """<graphics type='vnc'>: a display; the live XML tells the chosen port."""
    TAG = "graphics"
    TYPE_VNC = "vnc"
    type = Prop("@type")
    port = Prop("@port", int)
    autoport = Prop("@autoport", "yesno")
    listen = Prop("@listen")
    listen_type = Prop("listen/@type")
    listen_address = Prop("listen/@address")


class Domain(XMLObject):
    """<domain>: the persistent definition of a Machine."""
    TAG = "domain"
    type = Prop("@type")
    name = Prop("name")
    uuid = Prop("uuid")
    ownership = Children(Ownership, "metadata")
    memory = Prop("memory", int)
    memory_unit = Prop("memory/@unit")
    vcpu = Prop("vcpu", int)
    os_type = Prop("os/type")
    os_arch = Prop("os/type/@arch")
    boot_dev = Prop("os/boot/@dev")
    acpi = Prop("features/acpi", PRESENT)
    cpu_mode = Prop("cpu/@mode")
    cpu_match = Prop("cpu/@match")
    cpu_model = Prop("cpu/model")
    cpu_fallback = Prop("cpu/model/@fallback")
    on_poweroff = Prop("on_poweroff")
    on_reboot = Prop("on_reboot")
    on_crash = Prop("on_crash")
    disks = Children(Disk, "devices")
    controllers = Children(Controller, "devices")
    interfaces = Children(Interface, "devices")
    serials = Children(Serial, "devices")
    consoles = Children(Console, "devices")
    graphics = Children(Graphics, "devices")

    def owned_volumes(self):
        """Return the volume keys recorded as owned by this domain."""
        return [v.key for o in self.ownership for v in o.volumes]


def disk_elements(domain_xml):
    """Return (tree, {source file: <disk> element}) of a full domain XML.

    Works on the complete document, not on a parsed `Domain`, so that a
    definition edited and redefined keeps everything libvirt put in it.
    """
    tree = etree.fromstring(domain_xml.encode())
    disks = {}
    for disk in tree.iterfind("devices/disk"):
        source = disk.find("source")
        if source is not None and source.get("file"):
            disks[source.get("file")] = disk
    return tree, disks


def with_device(domain_xml, device):
    """Return domain_xml with the config object `device` appended to <devices>."""
    tree = etree.fromstring(domain_xml.encode())
    tree.find("devices").append(device.to_element())
    return etree.tostring(tree, encoding="unicode")


def without_disk(domain_xml, source_file):
    """Return domain_xml without the <disk> whose source is source_file."""
    tree, disks = disk_elements(domain_xml)
    if source_file in disks:
        disks[source_file].getparent().remove(disks[source_file])
    return etree.tostring(tree, encoding="unicode")


def element_xml(element):
    """Serialise one element of a full document (e.g. a <disk> to detach)."""
    return etree.tostring(element, encoding="unicode")
