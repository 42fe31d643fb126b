"""Plain dataclasses for an OVF envelope, named after DSP0243.

The reader fills these; checks, inspect and the writer read them. They hold
no XML and no I/O. Hardware is kept as the declared Items; the effective
hardware of one deployment option is computed by :func:`resolve_hardware`.
"""

from dataclasses import dataclass, field

#: CIM ResourceType values (DSP0243 clause 9.5 / CIM_ResourceAllocationSettingData).
RT_PROCESSOR = 3
RT_MEMORY = 4
RT_IDE = 5
RT_SCSI = 6
RT_FC = 7
RT_ISCSI = 8
RT_ETHERNET = 10
RT_FLOPPY = 14
RT_CDROM = 15
RT_DVD = 16
RT_DISK = 17
RT_OTHER_STORAGE = 20
RT_SERIAL = 21
RT_USB = 23
RT_LOGICAL_DISK = 31
#: Items that are disk drives.
DISK_TYPES = (RT_DISK, RT_LOGICAL_DISK)
#: Items a drive's ``rasd:Parent`` may name.
CONTROLLER_TYPES = (RT_IDE, RT_SCSI, RT_FC, RT_ISCSI, RT_OTHER_STORAGE, RT_USB)


@dataclass(frozen=True)
class File:
    """A References/File entry: one file of the package."""

    id: str
    href: str
    size: int | None = None
    compression: str | None = None
    chunkSize: int | None = None


@dataclass(frozen=True)
class Disk:
    """A DiskSection/Disk entry; ``fileRef`` None is a blank disk."""

    diskId: str
    capacityBytes: int
    format: str | None = None
    formatURI: str | None = None
    fileRef: str | None = None
    populatedSize: int | None = None
    parentRef: str | None = None


@dataclass(frozen=True)
class Network:
    """A NetworkSection/Network: a logical network NICs connect to."""

    name: str
    description: str | None = None


@dataclass(frozen=True)
class Configuration:
    """A DeploymentOptionSection/Configuration (a deployment profile)."""

    id: str
    label: str | None = None
    description: str | None = None
    default: bool = False


@dataclass(frozen=True)
class Item:
    """One VirtualHardwareSection Item as declared (rasd/sasd/epasd)."""

    instanceID: str
    resourceType: int
    resourceSubType: str | None = None
    elementName: str | None = None
    virtualQuantity: str | None = None
    allocationUnits: str | None = None
    hostResource: tuple[str, ...] = ()
    connection: tuple[str, ...] = ()
    parent: str | None = None
    address: str | None = None
    addressOnParent: str | None = None
    configurations: tuple[str, ...] = ()
    required: bool = True
    coresPerSocket: int | None = None


@dataclass(frozen=True)
class Property:
    """A ProductSection/Property; ``default`` is ``ovf:value``."""

    key: str
    type: str
    default: str | None = None
    password: bool = False
    userConfigurable: bool = False
    qualifiers: str | None = None
    label: str | None = None
    description: str | None = None
    category: str | None = None
    productClass: str | None = None
    instance: str | None = None

    @property
    def environmentKey(self) -> str:
        """Key in the OVF environment: ``class.key.instance`` (clause 9.5)."""
        parts = [p for p in (self.productClass, self.key, self.instance) if p]
        return ".".join(parts)


@dataclass(frozen=True)
class ProductSection:
    """Product facts and the properties passed to the guest."""

    productClass: str | None = None
    instance: str | None = None
    product: str | None = None
    vendor: str | None = None
    version: str | None = None
    fullVersion: str | None = None
    properties: tuple[Property, ...] = ()


@dataclass
class VirtualSystem:
    """A VirtualSystem: one machine to create."""

    id: str
    name: str | None = None
    osId: int | None = None
    osDescription: str | None = None
    osType: str | None = None
    transport: tuple[str, ...] = ()
    systemTypes: tuple[str, ...] = ()
    items: list[Item] = field(default_factory=list)
    productSections: list[ProductSection] = field(default_factory=list)
    eulas: list[str] = field(default_factory=list)

    @property
    def properties(self) -> list[Property]:
        """All ProductSection properties of this system, in order."""
        return [p for ps in self.productSections for p in ps.properties]


@dataclass
class VirtualSystemCollection:
    """A VirtualSystemCollection; members may nest (clause 8.2)."""

    id: str
    name: str | None = None
    members: list = field(default_factory=list)
    productSections: list[ProductSection] = field(default_factory=list)
    eulas: list[str] = field(default_factory=list)
    startupOrder: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Envelope:
    """The root of a descriptor."""

    ovfVersion: str
    references: list[File] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    configurations: list[Configuration] = field(default_factory=list)
    content: VirtualSystem | VirtualSystemCollection | None = None
    #: What the reader and checks accepted although the standard says
    #: otherwise (nothing lost); shown by inspect and the import Job.
    warnings: list[str] = field(default_factory=list)

    def file(self, file_id: str) -> File | None:
        """Return the File with ``ovf:id`` ``file_id``, or None."""
        return next((f for f in self.references if f.id == file_id), None)

    def disk(self, disk_id: str) -> Disk | None:
        """Return the Disk with ``ovf:diskId`` ``disk_id``, or None."""
        return next((d for d in self.disks if d.diskId == disk_id), None)

    @property
    def defaultProfile(self) -> str | None:
        """The ``ovf:default="true"`` Configuration, else the first (9.8)."""
        for conf in self.configurations:
            if conf.default:
                return conf.id
        return self.configurations[0].id if self.configurations else None

    def virtualSystems(self) -> list[VirtualSystem]:
        """Flatten nested collections into leaf VirtualSystems, in order."""
        out: list[VirtualSystem] = []
        stack = [self.content] if self.content is not None else []
        while stack:
            node = stack.pop(0)
            if isinstance(node, VirtualSystem):
                out.append(node)
            else:
                stack[0:0] = node.members
        return out


def items_for_profile(items: list[Item], profile: str | None) -> list[Item]:
    """Select the Items that apply to one deployment option.

    An Item without ``ovf:configuration`` applies to every profile; one
    with it applies only to those listed. When several Items share an
    InstanceID (COT and Cisco override per profile that way), the
    profile-specific one replaces the generic one.
    """
    chosen: dict[str, Item] = {}
    order: list[str] = []
    for item in items:
        if item.configurations and profile not in item.configurations:
            continue
        key = item.instanceID
        if key not in chosen:
            order.append(key)
            chosen[key] = item
        elif item.configurations or not chosen[key].configurations:
            chosen[key] = item
    return [chosen[k] for k in order]
