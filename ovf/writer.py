"""Write an Envelope back as an OVF 1.x descriptor, a SHA256 manifest and an OVA.

Used for export. The output is built with lxml elements (never string
concatenation) in DSP0243 1.x element order, so that :mod:`ovf.reader`
reads back the same facts (tested on every sample as a round trip).
"""

import hashlib
import io
import os
import tarfile
import time
import uuid
from pathlib import Path

from lxml import etree

from ovf.manifest import file_digest
from ovf.model import Envelope, Item, ProductSection, VirtualSystem, VirtualSystemCollection
from ovf.names import DISK_FORMAT_URIS

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VMW = "http://www.vmware.com/schema/ovf"
USTAR_MAX = 8 ** 11 - 1               # largest member a ustar header can size
NSMAP = {"ovf": OVF, "rasd": RASD, "vmw": VMW}
#: rasd child order: the CIM class's properties are alphabetical (DSP0243 1.x schema).
_ITEM_FIELDS = (("Address", "address"), ("AddressOnParent", "addressOnParent"),
                ("AllocationUnits", "allocationUnits"), ("Connection", "connection"),
                ("ElementName", "elementName"), ("HostResource", "hostResource"),
                ("InstanceID", "instanceID"), ("Parent", "parent"),
                ("ResourceSubType", "resourceSubType"), ("ResourceType", "resourceType"),
                ("VirtualQuantity", "virtualQuantity"))


def _el(parent, tag: str, text=None, ns=OVF, **attrs):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for key, value in attrs.items():
        if value is not None:
            el.set(f"{{{OVF}}}{key}", str(value))
    if text is not None:
        el.text = str(text)
    return el


def write_descriptor(env: Envelope) -> bytes:
    """Serialize ``env`` as OVF 1.x descriptor bytes (UTF-8)."""
    root = etree.Element(f"{{{OVF}}}Envelope", nsmap=NSMAP)
    refs = _el(root, "References")
    for f in env.references:
        _el(refs, "File", id=f.id, href=f.href, size=f.size,
            compression=f.compression, chunkSize=f.chunkSize)
    if env.disks:
        section = _el(root, "DiskSection")
        _el(section, "Info", "Virtual disk information")
        for d in env.disks:
            uri = d.formatURI or DISK_FORMAT_URIS.get(d.format or "")
            _el(section, "Disk", diskId=d.diskId, capacity=d.capacityBytes,
                capacityAllocationUnits="byte", fileRef=d.fileRef, format=uri,
                populatedSize=d.populatedSize, parentRef=d.parentRef)
    if env.networks:
        section = _el(root, "NetworkSection")
        _el(section, "Info", "Logical networks")
        for n in env.networks:
            net = _el(section, "Network", name=n.name)
            if n.description is not None:
                _el(net, "Description", n.description)
    if env.configurations:
        section = _el(root, "DeploymentOptionSection")
        _el(section, "Info", "Deployment options")
        for c in env.configurations:
            conf = _el(section, "Configuration", id=c.id,
                       default="true" if c.default else None)
            _el(conf, "Label", c.label or c.id)
            _el(conf, "Description", c.description or c.id)
    if env.content is not None:
        _write_content(root, env.content)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_content(parent, content) -> None:
    is_vsc = isinstance(content, VirtualSystemCollection)
    el = _el(parent, "VirtualSystemCollection" if is_vsc else "VirtualSystem",
             id=content.id)
    _el(el, "Info", "A collection of virtual systems" if is_vsc else "A virtual machine")
    if content.name is not None:
        _el(el, "Name", content.name)
    for ps in content.productSections:
        _write_product(el, ps)
    for text in content.eulas:
        eula = _el(el, "EulaSection")
        _el(eula, "Info", "License agreement")
        _el(eula, "License", text)
    if is_vsc:
        if content.startupOrder:
            startup = _el(el, "StartupSection")
            _el(startup, "Info", "Start order")
            for member_id, order in content.startupOrder:
                _el(startup, "Item", id=member_id, order=order)
        for member in content.members:
            _write_content(el, member)
    else:
        _write_system(el, content)


def _write_system(el, vs: VirtualSystem) -> None:
    if vs.osId is not None:
        os_section = _el(el, "OperatingSystemSection", id=vs.osId)
        _el(os_section, "Info", "Guest operating system")
        if vs.osDescription is not None:
            _el(os_section, "Description", vs.osDescription)
    hw = _el(el, "VirtualHardwareSection",
             transport=" ".join(vs.transport) or None)
    _el(hw, "Info", "Virtual hardware requirements")
    for item in vs.items:
        _write_item(hw, item)


def _write_item(hw, item: Item) -> None:
    el = _el(hw, "Item", configuration=" ".join(item.configurations) or None,
             required=None if item.required else "false")
    for name, attribute in _ITEM_FIELDS:
        value = getattr(item, attribute)
        for v in (value if isinstance(value, tuple) else (value,)):
            if v is not None:
                _el(el, name, v, ns=RASD)
    if item.coresPerSocket is not None:
        _el(el, "CoresPerSocket", item.coresPerSocket, ns=VMW, required="false")


def _write_product(el, ps: ProductSection) -> None:
    section = _el(el, "ProductSection", **{"class": ps.productClass,
                                            "instance": ps.instance})
    _el(section, "Info", "Product information")
    for name in ("product", "vendor", "version", "fullVersion"):
        if getattr(ps, name) is not None:
            _el(section, name[0].upper() + name[1:], getattr(ps, name))
    category = None
    for p in ps.properties:
        if p.category != category and p.category is not None:
            _el(section, "Category", p.category)
        category = p.category
        prop = _el(section, "Property", key=p.key, type=p.type, value=p.default,
                   qualifiers=p.qualifiers,
                   password="true" if p.password else None,
                   userConfigurable="true" if p.userConfigurable else None)
        if p.label is not None:
            _el(prop, "Label", p.label)
        if p.description is not None:
            _el(prop, "Description", p.description)


def write_manifest(files: dict[str, bytes]) -> bytes:
    """Build a SHA256 manifest for ``{name: bytes}`` (DSP0243 clause 5.1)."""
    return "".join(f"SHA256({name})= {hashlib.sha256(data).hexdigest()}\n"
                   for name, data in files.items()).encode()


def write_ova(target: Path, env: Envelope, files: list[tuple[str, str]], keepalive=None) -> None:
    """Write an OVA at ``target``: descriptor, SHA256 manifest, then ``files`` (member name, local path).

    DSP0243 order (descriptor first, manifest next), each disk streamed into
    the tar. The package appears under its name only when complete (a hard
    link from a hidden partial file), so an existing file is never
    overwritten: FileExistsError then. ``keepalive()`` is called while long
    disks are hashed.
    """
    stem = target.name[:-len(".ova")] if target.name.endswith(".ova") else target.name
    descriptor = write_descriptor(env)
    manifest = write_manifest({f"{stem}.ovf": descriptor}) + "".join(
        f"SHA256({name})= {file_digest(path, keepalive=keepalive)}\n" for name, path in files).encode()
    big = any(os.path.getsize(path) > USTAR_MAX for _, path in files)
    partial = target.parent / f".{target.name}.partial-{uuid.uuid4().hex}"
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT if big else tarfile.USTAR_FORMAT) as tar:
            for name, data in ((f"{stem}.ovf", descriptor), (f"{stem}.mf", manifest)):
                tar.addfile(_member(name, len(data)), io.BytesIO(data))
            for name, path in files:
                with open(path, "rb") as f:
                    tar.addfile(_member(name, os.fstat(f.fileno()).st_size), f)
        os.chmod(partial, 0o640)
        os.link(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    return info
