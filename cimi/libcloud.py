"""Apache Libcloud compute driver for DMTF CIMI 1.x providers (such as darn simple cloud).

    import cimi.libcloud                     # registers the provider name "cimi"
    from libcloud.compute.providers import get_driver
    cls = get_driver("cimi")
    driver = cls("alice", "s3cret", host="127.0.0.1", port=8080, secure=False)
    size = [s for s in driver.list_sizes() if s.name == "small"][0]
    node = driver.create_node("web1", size=size, image=driver.list_images()[0])

Written like libcloud's own drivers (a Connection with the credentials, a
Response that turns CIMI's Job-shaped error bodies into libcloud exceptions,
a NodeDriver mapping CIMI resources to Node/NodeSize/NodeImage/StorageVolume).
The CIMI logic itself (entry point discovery, Create wrappers, actions, Job
waiting) is the shared client in :mod:`cimi.client`; this module only gives it
libcloud's Connection as its transport.

Sizes are MachineConfigurations and images MachineImages; node, size, image,
volume and network ids are the CIMI resource URIs. Every state-changing call
waits for its CIMI Job (``ex_wait=False`` returns at once).
"""
import contextlib
import math
import urllib.parse

from libcloud.common.base import ConnectionUserAndKey, JsonResponse
from libcloud.common.types import InvalidCredsError, LibcloudError, ProviderError
from libcloud.compute.base import (
    Node,
    NodeDriver,
    NodeImage,
    NodeLocation,
    NodeSize,
    StorageVolume,
)
from libcloud.compute.types import NodeState, StorageVolumeState

from cimi.client import CimiError, Client, Response, short_id
from cimi.client.errors import message_of
from cimi.client.transport import Headers, basic_auth

__all__ = [
    "PROVIDER",
    "CIMIConnection",
    "CIMIError",
    "CIMINetwork",
    "CIMINodeDriver",
    "CIMIResponse",
    "register",
]

PROVIDER = "cimi"
KIB_PER_MIB, KIB_PER_GIB = 1024, 1024 * 1024


class CIMIError(ProviderError):
    """A CIMI error answer: ``http_code`` and the provider's statusMessage as ``value``."""

    def __init__(self, value, http_code, driver=None, body=None):
        super().__init__(value, http_code, driver)
        self.body = body


class CIMINotFoundError(CIMIError):
    pass


class CIMIConflictError(CIMIError):
    """The operation is not allowed in the resource's current state (HTTP 409)."""


class CIMIServiceUnavailableError(CIMIError):
    pass


_ERRORS = {404: CIMINotFoundError, 409: CIMIConflictError, 503: CIMIServiceUnavailableError}


class CIMIResponse(JsonResponse):
    """JSON answers; an error answer raises with the server's statusMessage."""

    def success(self):
        return 200 <= self.status < 300

    def parse_body(self):
        if not self.body:
            return None
        if not self.headers.get("content-type", "").startswith("application/json"):
            return self.body
        return super().parse_body()

    def parse_error(self):
        message, doc = message_of(self.body.encode() if isinstance(self.body, str) else self.body, self.status)
        driver = self.connection.driver if self.connection else None
        if self.status == 401:
            raise InvalidCredsError(message)
        raise _ERRORS.get(self.status, CIMIError)(message, self.status, driver, doc)


class CIMIConnection(ConnectionUserAndKey):
    """HTTP Basic authentication with the user name as key and the password as secret."""

    responseCls = CIMIResponse

    def add_default_headers(self, headers):
        headers["Authorization"] = basic_auth(self.user_id, self.key)
        headers.setdefault("Accept", "application/json")
        return headers


@contextlib.contextmanager
def _client_errors(driver):
    """What the shared client refuses on its own side (an operation not advertised, a failed Job)
    surfaces as the same libcloud exceptions as the server's error answers."""
    try:
        yield
    except CimiError as exc:
        raise _ERRORS.get(exc.status, CIMIError)(exc.message, exc.status, driver, exc.body) from exc


class LibcloudTransport:
    """The shared CIMI client's transport, over a libcloud Connection."""

    def __init__(self, connection):
        self.connection = connection

    def request(self, method, url, params=None, body=None, headers=None) -> Response:
        parts = urllib.parse.urlsplit(url)
        action = parts.path + ("?" + parts.query if parts.query else "")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self.connection.request(action, params=params, data=body, headers=headers or {}, method=method)
        body = resp.body.encode() if isinstance(resp.body, str) else (resp.body or b"")
        return Response(resp.status, Headers(resp.headers), body)


class CIMINetwork:
    """A CIMI Network (libcloud's compute API has no common network class)."""

    def __init__(self, id, name, state, driver, extra=None):
        self.id, self.name, self.state, self.driver, self.extra = id, name, state, driver, extra or {}

    def destroy(self):
        return self.driver.ex_destroy_network(self)

    def __repr__(self):
        return f"<CIMINetwork: id={self.id}, name={self.name}, state={self.state}>"


class CIMINodeDriver(NodeDriver):
    """A NodeDriver for any DMTF CIMI 1.x provider; found from its CloudEntryPoint."""

    type = PROVIDER
    name = "DMTF CIMI"
    website = "https://www.dmtf.org/standards/cloud"
    connectionCls = CIMIConnection
    features = {"create_node": []}

    NODE_STATE_MAP = {
        "CREATING": NodeState.PENDING,
        "STARTING": NodeState.STARTING,
        "STARTED": NodeState.RUNNING,
        "STOPPING": NodeState.STOPPING,
        "STOPPED": NodeState.STOPPED,
        "PAUSING": NodeState.PENDING,
        "PAUSED": NodeState.PAUSED,
        "SUSPENDING": NodeState.PENDING,
        "SUSPENDED": NodeState.SUSPENDED,
        "CAPTURING": NodeState.UPDATING,
        "RESTORING": NodeState.UPDATING,
        "DELETING": NodeState.TERMINATED,
        "ERROR": NodeState.ERROR,
        "FAILED": NodeState.ERROR,
    }
    VOLUME_STATE_MAP = {
        "CREATING": StorageVolumeState.CREATING,
        "AVAILABLE": StorageVolumeState.AVAILABLE,
        "CAPTURING": StorageVolumeState.BACKUP,
        "DELETING": StorageVolumeState.DELETING,
        "ERROR": StorageVolumeState.ERROR,
    }

    def __init__(self, key, secret=None, secure=True, host=None, port=None, ex_path="/cimi/cloudEntryPoint",
                 ex_job_timeout=300, **kwargs):
        """
        :param key: the CIMI user name
        :param secret: the password
        :param ex_path: the CloudEntryPoint's path on host:port
        :param ex_job_timeout: seconds to wait for a CIMI Job
        """
        if not host:
            raise LibcloudError("the CIMI driver needs host=", driver=self)
        super().__init__(key, secret, secure=secure, host=host, port=port, **kwargs)
        scheme = "https" if secure else "http"
        netloc = host if port is None else f"{host}:{port}"
        self.job_timeout = ex_job_timeout
        self.cimi = Client(f"{scheme}://{netloc}{ex_path}", LibcloudTransport(self.connection))

    # --- conversions ----------------------------------------------------------------------------------
    def _to_node(self, doc):
        return Node(id=doc["id"], name=doc.get("name", ""), state=self.NODE_STATE_MAP.get(doc.get("state"),
                    NodeState.UNKNOWN), public_ips=[], private_ips=[], driver=self,
                    extra={"cimi_state": doc.get("state"), "cpu": doc.get("cpu"), "memory_kib": doc.get("memory"),
                           "description": doc.get("description"), "host": doc.get("host"),
                           "created": doc.get("created"), "properties": doc.get("properties", {}),
                           "operations": [o["rel"] for o in doc.get("operations", [])], "resource": doc})

    def _to_size(self, doc):
        disk_kib = sum(d.get("capacity", 0) for d in doc.get("disks", []))
        return NodeSize(id=doc["id"], name=doc.get("name", short_id(doc["id"])),
                        ram=doc.get("memory", 0) // KIB_PER_MIB, disk=disk_kib // KIB_PER_GIB, bandwidth=None,
                        price=0, driver=self, extra={"cpu": doc.get("cpu"), "cpuArch": doc.get("cpuArch"),
                                                     "description": doc.get("description"),
                                                     "disks": doc.get("disks", [])})

    def _to_image(self, doc):
        return NodeImage(id=doc["id"], name=doc.get("name", short_id(doc["id"])), driver=self,
                         extra={k: doc.get(k) for k in ("state", "type", "imageLocation", "description")})

    def _to_volume(self, doc):
        capacity = doc.get("capacity", 0)
        gib = capacity / KIB_PER_GIB
        return StorageVolume(id=doc["id"], name=doc.get("name", ""), size=int(gib) if gib.is_integer() else gib,
                             driver=self, state=self.VOLUME_STATE_MAP.get(doc.get("state"),
                                                                          StorageVolumeState.UNKNOWN),
                             extra={"cimi_state": doc.get("state"), "capacity_kib": capacity,
                                    "type": doc.get("type"), "bootable": doc.get("bootable"),
                                    "description": doc.get("description")})

    def _to_network(self, doc):
        return CIMINetwork(doc["id"], doc.get("name", ""), doc.get("state"), self,
                           extra={k: doc.get(k) for k in ("networkType", "cidr", "mtu", "description")})

    def _href(self, key, ident):
        """A resource URI from a libcloud object, an URI or a short id."""
        ident = getattr(ident, "id", ident)
        return ident if "://" in ident else self.cimi.href(key) + "/" + urllib.parse.quote(ident)

    def _done(self, result, wait=True):
        """Wait for the Job of a create/action (unless told not to); the resource as it is now."""
        with _client_errors(self):
            if not wait:
                return self.cimi.get(result.location) if result.location else result.doc
            return self.cimi.finish(result, self.job_timeout)

    # --- nodes ------------------------------------------------------------------------------------------
    def list_nodes(self, ex_filter=None):
        return [self._to_node(m) for m in self.cimi.list("machines", filter=ex_filter)]

    def ex_get_node(self, node_id):
        return self._to_node(self.cimi.get(self._href("machines", node_id)))

    def create_node(self, name, size=None, image=None, location=None, ex_template=None, ex_description=None,
                    ex_initial_state=None, ex_properties=None, ex_wait=True, **kwargs):
        """Create a Machine from a size (MachineConfiguration) and an image, or from ex_template."""
        if ex_template is None and (size is None or image is None):
            raise ValueError("create_node needs size and image (or ex_template)")
        body = self.cimi.machine_body(
            name, template=ex_template and self._href("machineTemplates", ex_template),
            config=size and self._href("machineConfigs", size), image=image and self._href("machineImages", image),
            description=ex_description, initial_state=ex_initial_state, properties=ex_properties)
        return self._to_node(self._done(self.cimi.create("machines", body), ex_wait))

    def _act(self, node, action, wait=True, **params):
        with _client_errors(self):
            machine = self.cimi.get(self._href("machines", node))
            result = self.cimi.act(machine, action, **params)
            if wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    def reboot_node(self, node, ex_force=False, ex_wait=True):
        return self._act(node, "restart", ex_wait, **({"force": True} if ex_force else {}))

    def start_node(self, node, ex_wait=True):
        return self._act(node, "start", ex_wait)

    def stop_node(self, node, ex_force=False, ex_wait=True):
        return self._act(node, "stop", ex_wait, **({"force": True} if ex_force else {}))

    def ex_pause_node(self, node, ex_wait=True):
        return self._act(node, "pause", ex_wait)

    def ex_suspend_node(self, node, ex_wait=True):
        return self._act(node, "suspend", ex_wait)

    def destroy_node(self, node, ex_wait=True):
        with _client_errors(self):
            result = self.cimi.delete(self.cimi.get(self._href("machines", node)))
            if ex_wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    def ex_capture_node(self, node, name, ex_description=None, ex_wait=True):
        """Capture a stopped Machine into a new MachineImage; return it as a NodeImage."""
        with _client_errors(self):
            result = self.cimi.capture(self.cimi.get(self._href("machines", node)), name, ex_description)
            return self._to_image(self._done(result, ex_wait))

    # --- sizes, images, locations ------------------------------------------------------------------------
    def list_sizes(self, location=None):
        return [self._to_size(c) for c in self.cimi.list("machineConfigs")]

    def list_images(self, location=None, ex_filter=None):
        return [self._to_image(i) for i in self.cimi.list("machineImages", filter=ex_filter)]

    def get_image(self, image_id):
        return self._to_image(self.cimi.get(self._href("machineImages", image_id)))

    def delete_image(self, node_image):
        with _client_errors(self):
            result = self.cimi.delete(self.cimi.get(self._href("machineImages", node_image)))
            if result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    def list_locations(self):
        cep = self.cimi.cep
        return [NodeLocation(id=cep.get("baseURI", cep["id"]), name=cep.get("name", "cimi"), country="",
                             driver=self)]

    def ex_list_machine_templates(self):
        return self.cimi.list("machineTemplates")

    # --- volumes ---------------------------------------------------------------------------------------------
    def list_volumes(self, ex_filter=None):
        return [self._to_volume(v) for v in self.cimi.list("volumes", filter=ex_filter)]

    def ex_get_volume(self, volume_id):
        return self._to_volume(self.cimi.get(self._href("volumes", volume_id)))

    def create_volume(self, size, name, location=None, snapshot=None, ex_capacity_kib=None, ex_config=None,
                      ex_description=None, ex_wait=True):
        """Create a Volume of ``size`` GiB (or ex_capacity_kib KiB, or from a VolumeConfiguration)."""
        capacity = ex_capacity_kib or (int(math.ceil(size * KIB_PER_GIB)) if size else None)
        body = self.cimi.volume_body(name, capacity_kib=None if ex_config else capacity,
                                     config=ex_config and self._href("volumeConfigs", ex_config),
                                     description=ex_description)
        return self._to_volume(self._done(self.cimi.create("volumes", body), ex_wait))

    def attach_volume(self, node, volume, device=None, ex_wait=True):
        with _client_errors(self):
            machine = self.cimi.get(self._href("machines", node))
            result = self.cimi.attach(machine, {"id": self._href("volumes", volume)}, device)
            if ex_wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    def ex_list_attached_volumes(self, node):
        """The volumes attached to a node: (StorageVolume, device) pairs."""
        machine = self.cimi.get(self._href("machines", node))
        attached = self.cimi.query(machine["volumes"]["href"]).get("machineVolumes", [])
        return [(self.ex_get_volume(mv["volume"]["href"]), mv.get("initialLocation")) for mv in attached]

    def detach_volume(self, volume, ex_node=None, ex_wait=True):
        """Detach a volume from ex_node, or from whichever machine has it attached."""
        vol = {"id": self._href("volumes", volume)}
        machines = [self.cimi.get(self._href("machines", ex_node))] if ex_node else self.cimi.list("machines")
        for machine in machines:
            volumes = self.cimi.query(machine["volumes"]["href"]).get("machineVolumes", [])
            for mv in volumes:
                if mv.get("volume", {}).get("href") == vol["id"]:
                    result = self.cimi.delete(mv)
                    if ex_wait and result.job:
                        self.cimi.wait(result.job, self.job_timeout)
                    return True
        return False

    def destroy_volume(self, volume, ex_wait=True):
        with _client_errors(self):
            result = self.cimi.delete(self.cimi.get(self._href("volumes", volume)))
            if ex_wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    # --- networks ----------------------------------------------------------------------------------------------
    def list_networks(self, ex_filter=None):
        return [self._to_network(n) for n in self.cimi.list("networks", filter=ex_filter)]

    def ex_get_network(self, network_id):
        return self._to_network(self.cimi.get(self._href("networks", network_id)))

    def ex_create_network(self, name, network_type="PRIVATE", cidr=None, ex_description=None, ex_wait=True):
        body = self.cimi.network_body(name, network_type, cidr, description=ex_description)
        return self._to_network(self._done(self.cimi.create("networks", body), ex_wait))

    def _network_act(self, network, action, wait):
        with _client_errors(self):
            result = self.cimi.act(self.cimi.get(self._href("networks", network)), action)
            if wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    def ex_start_network(self, network, ex_wait=True):
        return self._network_act(network, "start", ex_wait)

    def ex_stop_network(self, network, ex_wait=True):
        return self._network_act(network, "stop", ex_wait)

    def ex_destroy_network(self, network, ex_wait=True):
        with _client_errors(self):
            result = self.cimi.delete(self.cimi.get(self._href("networks", network)))
            if ex_wait and result.job:
                self.cimi.wait(result.job, self.job_timeout)
            return True

    # --- jobs -------------------------------------------------------------------------------------------------
    def ex_list_jobs(self, ex_filter=None):
        return self.cimi.list("jobs", filter=ex_filter)

    def ex_get_job(self, job_id):
        return self.cimi.get(self._href("jobs", job_id))

    def ex_wait_for_job(self, job_id, timeout=None):
        """Wait for a CIMI Job; return it (raises cimi.client.JobFailed if it fails)."""
        return self.cimi.wait(self._href("jobs", job_id), timeout or self.job_timeout)

    def ex_get_cloud_entry_point(self):
        return dict(self.cimi.cep)


def register():
    """Register the driver with libcloud under the provider name "cimi" (idempotent)."""
    from libcloud.compute.providers import DRIVERS, set_driver
    if PROVIDER not in DRIVERS:
        set_driver(PROVIDER, __name__, "CIMINodeDriver")


register()
