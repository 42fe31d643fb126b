"""One table for the OVF namespace and version differences.

The rest of the package asks for "DiskSection" or "VirtualSystem" and gets
elements, whatever the dialect spelled them as:

* 0.9 (VMware's pre-standard namespace) and oVirt's ``…/envelope/1/``
  write sections as ``<Section xsi:type="ovf:DiskSection_Type">`` and
  systems as ``<Content xsi:type="ovf:VirtualSystem_Type">``;
* 1.x and 2.x use the element names themselves; 2.x adds ``StorageItem``
  (sasd) and ``EthernetPortItem`` (epasd) beside ``Item`` (rasd).

The version is decided from the root namespace only, never from
``ovf:version`` (oVirt writes ``ovf:version="0.9"`` on 1.x envelopes).
"""

from dataclasses import dataclass

from lxml import etree

from ovf.errors import OVFError
from ovf.xmlsafe import qname_parts

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class Dialect:
    """How one OVF version spells the envelope.

    Attributes:
        version: ``"0.9"``, ``"1.x"`` or ``"2.x"`` (oVirt reports ``"1.x"``).
        ns: The envelope namespace URI, also used for ``ovf:`` attributes.
        typed_sections: True when sections are ``Section``/``Content``
            elements distinguished by ``xsi:type``.
        name: A label for messages.
    """

    version: str
    ns: str
    typed_sections: bool
    name: str


#: Root namespace -> dialect. Anything else is not OVF.
DIALECTS = {
    d.ns: d for d in (
        Dialect("0.9", "http://www.vmware.com/schema/ovf/1/envelope", True, "OVF 0.9"),
        Dialect("1.x", "http://schemas.dmtf.org/ovf/envelope/1", False, "OVF 1.x"),
        Dialect("2.x", "http://schemas.dmtf.org/ovf/envelope/2", False, "OVF 2.x"),
        Dialect("1.x", "http://schemas.dmtf.org/ovf/envelope/1/", True, "oVirt OVF"),
    )
}

#: Element names of VirtualHardwareSection entries that are hardware Items.
ITEM_ELEMENTS = ("Item", "StorageItem", "EthernetPortItem")

#: CIM classes whose properties appear inside Items and System elements.
#: NOTE(ovf): match these by class, not by exact URI: VirtualBox's 2.0 export
#: appends ``.xsd`` and DSP0243 2.1.1 Example 3 has a space in the epasd URI.
CIM_PREFIX = "http://schemas.dmtf.org/wbem/wscim/1/"
CIM_CLASSES = (
    "CIM_ResourceAllocationSettingData",
    "CIM_StorageAllocationSettingData",
    "CIM_EthernetPortAllocationSettingData",
    "CIM_VirtualSystemSettingData",
)

#: Sections of the standard we understand or may safely ignore (DSP0243
#: clause 9). Unknown sections are refused unless ``ovf:required="false"``.
KNOWN_SECTIONS = frozenset((
    "Info", "Name", "References", "Strings",
    "DiskSection", "NetworkSection", "DeploymentOptionSection",
    "VirtualSystem", "VirtualSystemCollection",
    "VirtualHardwareSection", "OperatingSystemSection", "ProductSection",
    "EulaSection", "AnnotationSection", "StartupSection",
    "ResourceAllocationSection", "InstallSection",
    "EnvironmentFilesSection", "BootDeviceSection", "SharedDiskSection",
    "ScaleOutSection", "PlacementGroupSection", "PlacementSection",
    "EncryptionSection",
))


def is_cim_namespace(ns: str) -> bool:
    """Tell whether ``ns`` names one of the CIM setting-data classes."""
    if not ns.startswith(CIM_PREFIX):
        return False
    tail = ns.rstrip("/")
    if tail.endswith(".xsd"):
        tail = tail[:-4]
    return tail.rsplit("/", 1)[-1] in CIM_CLASSES


def dialect_of(root: etree._Element) -> Dialect:
    """Decide the OVF dialect from the root element, or refuse.

    Raises:
        OVFError: if the root is not an ``Envelope`` in a known namespace.
    """
    ns, local = qname_parts(root.tag)
    if local != "Envelope" or ns not in DIALECTS:
        raise OVFError(
            f"not an OVF envelope: root element {local!r} in namespace "
            f"{ns!r} (expected DSP0243 0.9, 1.x or 2.x)")
    return DIALECTS[ns]


def attr(el: etree._Element, dialect: Dialect, name: str,
         default: str | None = None) -> str | None:
    """Read an ``ovf:`` attribute, tolerating the unqualified spelling."""
    value = el.get(f"{{{dialect.ns}}}{name}")
    if value is None:
        value = el.get(name)
    return default if value is None else value


def kind(el: etree._Element, dialect: Dialect) -> str | None:
    """Return the logical OVF name of an element, or None if foreign.

    ``<Section xsi:type="ovf:DiskSection_Type">`` answers "DiskSection";
    ``<ovf:DiskSection>`` answers the same; ``<vmw:Foo>`` answers None.
    """
    if not isinstance(el.tag, str):
        return None
    ns, local = qname_parts(el.tag)
    # NOTE(ovf): oVirt writes References, Section and Content in no namespace.
    if ns not in (dialect.ns, ""):
        return None
    if local in ("Section", "Content"):
        xsi_type = el.get(f"{{{XSI_NS}}}type")
        if xsi_type:
            local = xsi_type.rpartition(":")[2]
            if local.endswith("_Type"):
                local = local[:-5]
    return local


def children(el: etree._Element, dialect: Dialect, name: str) -> list:
    """Return the child elements whose logical name is ``name``."""
    return [c for c in el if kind(c, dialect) == name]


def child(el: etree._Element, dialect: Dialect, name: str):
    """Return the first child whose logical name is ``name``, or None."""
    found = children(el, dialect, name)
    return found[0] if found else None


def child_text(el: etree._Element, dialect: Dialect, name: str) -> str | None:
    """Return the stripped text of the first child ``name``, or None."""
    found = child(el, dialect, name)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def is_required(el: etree._Element, dialect: Dialect) -> bool:
    """Read ``ovf:required`` (default true, DSP0243 clause 9.1)."""
    return (attr(el, dialect, "required", "true") or "true").strip() != "false"


def cim_properties(el: etree._Element) -> dict[str, list[str]]:
    """Collect an Item's CIM properties by local name, in document order.

    Multi-valued properties (``HostResource``, ``Connection``) keep every
    value; vendor children such as ``vmw:CoresPerSocket`` are excluded.
    """
    props: dict[str, list[str]] = {}
    for sub in el:
        if not isinstance(sub.tag, str):
            continue
        ns, local = qname_parts(sub.tag)
        if is_cim_namespace(ns):
            props.setdefault(local, []).append((sub.text or "").strip())
    return props


def vendor_value(el: etree._Element, local: str) -> str | None:
    """Return the text of a non-CIM, non-OVF child named ``local``.

    Used for vendor extras such as ``vmw:CoresPerSocket``.
    """
    for sub in el:
        if isinstance(sub.tag, str):
            ns, name = qname_parts(sub.tag)
            if name == local and not is_cim_namespace(ns):
                return (sub.text or "").strip()
    return None


def vendor_attr(el: etree._Element, local: str) -> str | None:
    """Return a namespaced vendor attribute by local name (e.g. osType)."""
    for key, value in el.attrib.items():
        if qname_parts(key)[1] == local and key.startswith("{"):
            return value
    return None


#: ``ovf:format`` URI -> short disk format name. Exporters disagree on the
#: URIs (VMware's legacy ``/specifications/``, VirtualBox's VHD page, COT's
#: qcow page), so this table is the one place that knows them.
DISK_FORMATS = {
    "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized":
        "vmdk-streamOptimized",
    "http://www.vmware.com/specifications/vmdk.html#streamOptimized":
        "vmdk-streamOptimized",
    # "compressed" is the pre-1.0 name of streamOptimized (VirtualBox maps it so).
    "http://www.vmware.com/specifications/vmdk.html#compressed":
        "vmdk-streamOptimized",
    "http://www.vmware.com/interfaces/specifications/vmdk.html#compressed":
        "vmdk-streamOptimized",
    "http://www.vmware.com/specifications/vmdk.html#sparse":
        "vmdk-monolithicSparse",
    "http://www.vmware.com/interfaces/specifications/vmdk.html#sparse":
        "vmdk-monolithicSparse",
    "http://www.gnome.org/~markmc/qcow-image-format.html": "qcow2",
    "https://people.gnome.org/~markmc/qcow-image-format.html": "qcow2",
    "http://technet.microsoft.com/en-us/virtualization/bb676673.aspx": "vhd",
    "http://www.ecma-international.org/publications/standards/Ecma-119.htm": "iso",
    "raw": "raw",
}

#: Short format name -> the canonical URI the writer emits.
DISK_FORMAT_URIS = {
    "vmdk-streamOptimized":
        "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
    "vmdk-monolithicSparse":
        "http://www.vmware.com/interfaces/specifications/vmdk.html#sparse",
    "qcow2": "http://www.gnome.org/~markmc/qcow-image-format.html",
}


def disk_format(uri: str | None) -> str | None:
    """Map an ``ovf:format`` URI to a short name ("unknown" if foreign)."""
    if uri is None or not uri.strip():
        return None
    return DISK_FORMATS.get(uri.strip(), "unknown")
