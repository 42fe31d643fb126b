"""CIMI documents as libcloud objects: Machine -> Node, MachineConfiguration -> NodeSize, and so on."""
import ipaddress

from libcloud.compute.base import KeyPair, Node, NodeImage, NodeSize, StorageVolume
from libcloud.compute.types import NodeState, StorageVolumeState

from cimiclient import short_id
from cimiclient.documents import public_key_of
from cimiclient.libcloud.keys import fingerprint

KIB_PER_MIB, KIB_PER_GIB = 1024, 1024 * 1024

NODE_STATES = {
    "CREATING": NodeState.PENDING, "STARTING": NodeState.STARTING, "STARTED": NodeState.RUNNING,
    "STOPPING": NodeState.STOPPING, "STOPPED": NodeState.STOPPED, "PAUSING": NodeState.PENDING,
    "PAUSED": NodeState.PAUSED, "SUSPENDING": NodeState.PENDING, "SUSPENDED": NodeState.SUSPENDED,
    "CAPTURING": NodeState.UPDATING, "RESTORING": NodeState.UPDATING, "DELETING": NodeState.TERMINATED,
    "ERROR": NodeState.ERROR, "FAILED": NodeState.ERROR,
}
VOLUME_STATES = {
    "CREATING": StorageVolumeState.CREATING, "AVAILABLE": StorageVolumeState.AVAILABLE,
    "CAPTURING": StorageVolumeState.BACKUP, "DELETING": StorageVolumeState.DELETING,
    "ERROR": StorageVolumeState.ERROR,
}


def split_ips(ips) -> tuple[list, list]:
    """(public, private): addresses in private ranges (RFC 1918, ULA, link-local) are private."""
    public, private = [], []
    for ip in ips:
        try:
            is_private = ipaddress.ip_address(ip.split("/")[0]).is_private
        except ValueError:
            continue
        (private if is_private else public).append(ip)
    return public, private


def node(driver, doc: dict, ips=()) -> Node:
    public, private = split_ips(ips)
    return Node(id=doc["id"], name=doc.get("name", ""), state=NODE_STATES.get(doc.get("state"), NodeState.UNKNOWN),
                public_ips=public, private_ips=private, driver=driver,
                extra={"cimi_state": doc.get("state"), "cpu": doc.get("cpu"), "memory_kib": doc.get("memory"),
                       "description": doc.get("description"), "host": doc.get("host"),
                       "created": doc.get("created"), "properties": doc.get("properties", {}),
                       "operations": [o["rel"] for o in doc.get("operations", [])], "resource": doc})


def size(driver, doc: dict) -> NodeSize:
    disk_kib = sum(d.get("capacity", 0) for d in doc.get("disks", []))
    return NodeSize(id=doc["id"], name=doc.get("name", short_id(doc["id"])),
                    ram=doc.get("memory", 0) // KIB_PER_MIB, disk=disk_kib // KIB_PER_GIB, bandwidth=None,
                    price=0, driver=driver, extra={"cpu": doc.get("cpu"), "cpuArch": doc.get("cpuArch"),
                                                   "description": doc.get("description"),
                                                   "disks": doc.get("disks", [])})


def image(driver, doc: dict) -> NodeImage:
    return NodeImage(id=doc["id"], name=doc.get("name", short_id(doc["id"])), driver=driver,
                     extra={k: doc.get(k) for k in ("state", "type", "imageLocation", "description")})


def volume(driver, doc: dict) -> StorageVolume:
    capacity = doc.get("capacity", 0)
    gib = capacity / KIB_PER_GIB
    return StorageVolume(id=doc["id"], name=doc.get("name", ""), size=int(gib) if gib.is_integer() else gib,
                         driver=driver, state=VOLUME_STATES.get(doc.get("state"), StorageVolumeState.UNKNOWN),
                         extra={"cimi_state": doc.get("state"), "capacity_kib": capacity, "type": doc.get("type"),
                                "bootable": doc.get("bootable"), "description": doc.get("description")})


def key_pair(driver, doc: dict, private_key: str | None = None) -> KeyPair:
    public = public_key_of(doc) or ""
    return KeyPair(name=doc.get("name") or short_id(doc["id"]), public_key=public, fingerprint=fingerprint(public),
                   driver=driver, private_key=private_key, extra={"id": doc["id"], "userName": doc.get("userName")})


class CIMINetwork:
    """A CIMI Network (libcloud's compute API has no common network class)."""

    def __init__(self, id, name, state, driver, extra=None):
        self.id, self.name, self.state, self.driver, self.extra = id, name, state, driver, extra or {}

    def destroy(self):
        return self.driver.ex_destroy_network(self)

    def __repr__(self):
        return f"<CIMINetwork: id={self.id}, name={self.name}, state={self.state}>"


def network(driver, doc: dict) -> CIMINetwork:
    return CIMINetwork(doc["id"], doc.get("name", ""), doc.get("state"), driver,
                       extra={k: doc.get(k) for k in ("networkType", "cidr", "mtu", "description")})
