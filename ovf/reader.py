"""Read an OVF descriptor into the plain model of :mod:`ovf.model`.

The reader is faithful: it records what the descriptor says, refusing only
what it cannot represent (unknown required sections, malformed numbers,
a missing VirtualSystem). Cross-reference checks (dangling fileRef,
HostResource, Parent, undeclared profiles, unsafe hrefs) live in
:mod:`ovf.checks`, so a broken descriptor can still be described.
"""

from lxml import etree

from ovf import names
from ovf.errors import OVFError
from ovf.model import (Configuration, Disk, Envelope, File, Item, Network,
                       Property, ProductSection, VirtualSystem,
                       VirtualSystemCollection)
from ovf.names import Dialect, attr, child, child_text, children, kind
from ovf.units import parse_count, to_bytes
from ovf.xmlsafe import parse_descriptor

#: Nesting depth allowed for VirtualSystemCollections.
MAX_COLLECTION_DEPTH = 8
#: CIM_OperatingSystem.OSType values (CIM schema 2.x ValueMap).
CIM_OS_IDS = (0, 115)


def read_envelope(data: bytes) -> Envelope:
    """Parse descriptor bytes into an :class:`Envelope`.

    Raises:
        OVFError: if the bytes are not a readable OVF descriptor.
    """
    root = parse_descriptor(data)
    dialect = names.dialect_of(root)
    _refuse_unknown_sections(root, dialect, "Envelope")
    env = Envelope(ovfVersion=dialect.version)
    refs = child(root, dialect, "References")
    if refs is not None:
        env.references = [_read_file(f, dialect)
                          for f in children(refs, dialect, "File")]
    for section in children(root, dialect, "DiskSection"):
        env.disks += [_read_disk(d, dialect)
                      for d in children(section, dialect, "Disk")]
    for section in children(root, dialect, "NetworkSection"):
        env.networks += [
            Network(attr(n, dialect, "name") or "",
                    child_text(n, dialect, "Description"))
            for n in children(section, dialect, "Network")]
    for section in children(root, dialect, "DeploymentOptionSection"):
        env.configurations += [
            Configuration(attr(c, dialect, "id") or "",
                          child_text(c, dialect, "Label"),
                          child_text(c, dialect, "Description"),
                          attr(c, dialect, "default", "false") == "true")
            for c in children(section, dialect, "Configuration")]
    contents = [c for c in root
                if kind(c, dialect) in ("VirtualSystem", "VirtualSystemCollection")]
    if len(contents) != 1:
        raise OVFError(f"descriptor must have exactly one VirtualSystem or "
                       f"VirtualSystemCollection, found {len(contents)}")
    if any(isinstance(el.tag, str) and not el.tag.startswith("{")
           for el in root.iter()):
        env.warnings.append("elements without a namespace (oVirt style) were "
                            f"read as {dialect.name} elements")
    env.content = _read_content(contents[0], dialect, 0, env.warnings)
    return env


def _refuse_unknown_sections(el: etree._Element, dialect: Dialect,
                             where: str) -> None:
    """Refuse required sections we do not understand (DSP0243 9.1).

    NOTE(ovf): vendors sometimes omit ``ovf:required="false"`` on their
    own sections; we follow the standard and refuse, naming the section.
    """
    for sub in el:
        if not isinstance(sub.tag, str):
            continue
        name = kind(sub, dialect)
        if name in names.KNOWN_SECTIONS or not names.is_required(sub, dialect):
            continue
        label = name or etree.QName(sub).localname
        raise OVFError(f"{where} has unknown required section {label!r} "
                       f"(DSP0243 9.1: a section the reader does not know must "
                       f"say ovf:required=\"false\")")


def _read_file(el: etree._Element, dialect: Dialect) -> File:
    file_id = attr(el, dialect, "id")
    href = attr(el, dialect, "href")
    if not file_id or not href:
        raise OVFError("References/File needs both ovf:id and ovf:href")
    compression = attr(el, dialect, "compression")
    if compression == "identity":
        compression = None
    return File(file_id, href,
                parse_count(attr(el, dialect, "size"), f"size of File {file_id}"),
                compression,
                parse_count(attr(el, dialect, "chunkSize"),
                            f"chunkSize of File {file_id}"))


def _read_disk(el: etree._Element, dialect: Dialect) -> Disk:
    disk_id = attr(el, dialect, "diskId")
    if not disk_id:
        raise OVFError("DiskSection/Disk without ovf:diskId")
    what = f"capacity of Disk {disk_id}"
    capacity = to_bytes(attr(el, dialect, "capacity"),
                        attr(el, dialect, "capacityAllocationUnits"), what)
    if capacity is None:
        raise OVFError(f"Disk {disk_id} has no ovf:capacity")
    uri = attr(el, dialect, "format")
    return Disk(disk_id, capacity, names.disk_format(uri), uri,
                attr(el, dialect, "fileRef"),
                parse_count(attr(el, dialect, "populatedSize"),
                            f"populatedSize of Disk {disk_id}"),
                attr(el, dialect, "parentRef"))


def _os_id(text: str | None, vs_id: str, warnings: list[str]) -> int | None:
    """Read OperatingSystemSection ovf:id; a value outside the CIM table is kept, with a warning.

    VMware writes -100 ("other") and vendors their own numbers: the id only
    describes the guest, so nothing is lost by not knowing it.
    """
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        warnings.append(f"{vs_id}: OperatingSystemSection ovf:id {text!r} is not "
                        f"an integer; the guest OS is unknown")
        return None
    if not CIM_OS_IDS[0] <= value <= CIM_OS_IDS[1]:
        warnings.append(f"{vs_id}: OperatingSystemSection ovf:id {value} is outside "
                        f"the CIM_OperatingSystem OSType table "
                        f"({CIM_OS_IDS[0]}-{CIM_OS_IDS[1]}); the guest OS is unknown")
    return value


def _read_content(el: etree._Element, dialect: Dialect, depth: int,
                  warnings: list[str]):
    if depth > MAX_COLLECTION_DEPTH:
        raise OVFError("VirtualSystemCollections nest too deeply")
    content_id = attr(el, dialect, "id")
    if not content_id:
        raise OVFError(f"{kind(el, dialect)} without ovf:id")
    _refuse_unknown_sections(el, dialect, f"{kind(el, dialect)} {content_id!r}")
    products = [_read_product(p, dialect)
                for p in children(el, dialect, "ProductSection")]
    eulas = [child_text(e, dialect, "License") or ""
             for e in children(el, dialect, "EulaSection")]
    name = child_text(el, dialect, "Name")
    if kind(el, dialect) == "VirtualSystemCollection":
        members = [_read_content(c, dialect, depth + 1, warnings) for c in el
                   if kind(c, dialect) in ("VirtualSystem", "VirtualSystemCollection")]
        return VirtualSystemCollection(content_id, name, members, products,
                                       eulas, _read_startup(el, dialect))
    vs = VirtualSystem(content_id, name, productSections=products, eulas=eulas)
    os_section = child(el, dialect, "OperatingSystemSection")
    if os_section is not None:
        vs.osId = _os_id(attr(os_section, dialect, "id"), content_id, warnings)
        vs.osDescription = child_text(os_section, dialect, "Description")
        vs.osType = (names.vendor_attr(os_section, "osType")
                     or names.vendor_value(os_section, "OSType"))
    hardware = child(el, dialect, "VirtualHardwareSection")
    if hardware is not None:
        vs.transport = tuple((attr(hardware, dialect, "transport") or "").split())
        system = child(hardware, dialect, "System")
        if system is not None:
            types = names.cim_properties(system).get("VirtualSystemType", [""])
            vs.systemTypes = tuple(types[0].split())
        vs.items = [_read_item(i, dialect, warnings) for i in hardware
                    if kind(i, dialect) in names.ITEM_ELEMENTS]
    return vs


def _read_startup(el: etree._Element, dialect: Dialect) -> list[tuple[str, int]]:
    section = child(el, dialect, "StartupSection")
    if section is None:
        return []
    return [(attr(i, dialect, "id") or "",
             parse_count(attr(i, dialect, "order", "0"), "StartupSection order") or 0)
            for i in children(section, dialect, "Item")]


def _read_item(el: etree._Element, dialect: Dialect, warnings: list[str]) -> Item:
    props = names.cim_properties(el)

    def one(name: str) -> str | None:
        values = props.get(name)
        return values[0] if values else None

    instance_id = one("InstanceID")
    if not instance_id and one("InstanceId"):
        instance_id = one("InstanceId")
        if dialect.version != "0.9":
            warnings.append(f"Item {instance_id}: rasd:InstanceId (the OVF 0.9 "
                            f"spelling) read as rasd:InstanceID")
    if not instance_id:
        raise OVFError("hardware Item without rasd:InstanceID (DSP0243 9.5: "
                       "every Item needs one)")
    resource_type = parse_count(one("ResourceType"),
                                f"ResourceType of Item {instance_id}")
    if resource_type is None:
        raise OVFError(f"hardware Item {instance_id} has no rasd:ResourceType")
    cores = names.vendor_value(el, "CoresPerSocket")
    return Item(
        instanceID=instance_id,
        resourceType=resource_type,
        resourceSubType=one("ResourceSubType"),
        elementName=one("ElementName") or one("Caption"),
        virtualQuantity=one("VirtualQuantity"),
        allocationUnits=one("AllocationUnits"),
        hostResource=tuple(v for v in props.get("HostResource", ()) if v),
        connection=tuple(v for v in props.get("Connection", ()) if v),
        parent=one("Parent"),
        address=one("Address"),
        addressOnParent=one("AddressOnParent"),
        configurations=tuple((attr(el, dialect, "configuration") or "").split()),
        required=names.is_required(el, dialect),
        coresPerSocket=parse_count(cores, "CoresPerSocket") if cores else None,
    )


def _read_product(el: etree._Element, dialect: Dialect) -> ProductSection:
    product_class = attr(el, dialect, "class")
    instance = attr(el, dialect, "instance")
    properties = []
    category = None
    for sub in el:
        name = kind(sub, dialect)
        if name == "Category":
            category = (sub.text or "").strip() or None
        elif name == "Property":
            key = attr(sub, dialect, "key")
            if not key:
                raise OVFError("ProductSection Property without ovf:key")
            properties.append(Property(
                key=key,
                type=attr(sub, dialect, "type") or "string",
                default=attr(sub, dialect, "value"),
                password=attr(sub, dialect, "password", "false") == "true",
                userConfigurable=attr(sub, dialect, "userConfigurable",
                                      "false") == "true",
                qualifiers=attr(sub, dialect, "qualifiers"),
                label=child_text(sub, dialect, "Label"),
                description=child_text(sub, dialect, "Description"),
                category=category,
                productClass=product_class,
                instance=instance))
    return ProductSection(product_class, instance,
                          child_text(el, dialect, "Product"),
                          child_text(el, dialect, "Vendor"),
                          child_text(el, dialect, "Version"),
                          child_text(el, dialect, "FullVersion"),
                          tuple(properties))
