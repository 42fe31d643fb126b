"""CIMINodeDriver: Libcloud's compute API over any DMTF CIMI 1.x provider.

Sizes are MachineConfigurations, images MachineImages, key pairs
Credentials, locations the hypervisor hosts; node, size, image, volume and
network ids are the CIMI resource URIs. Every state-changing call waits for
its CIMI Job (``ex_wait=False`` returns at once). Errors are libcloud's types
(see errors.py).
"""
import math
import urllib.parse

from libcloud.common.types import LibcloudError
from libcloud.compute.base import NodeAuthPassword, NodeAuthSSHKey, NodeDriver, NodeLocation
from libcloud.compute.types import KeyPairDoesNotExistError

from cimiclient import Client, NotFound
from cimiclient.libcloud import convert, keys
from cimiclient.libcloud.connection import CIMIConnection, LibcloudTransport
from cimiclient.libcloud.errors import mapped

PROVIDER = "cimi"


def _id(thing) -> str:
    return getattr(thing, "id", thing)


@mapped
class CIMINodeDriver(NodeDriver):
    """A NodeDriver for any DMTF CIMI 1.x provider; found from its CloudEntryPoint."""

    type = PROVIDER
    name = "DMTF CIMI"
    website = "https://www.dmtf.org/standards/cloud"
    connectionCls = CIMIConnection
    features = {"create_node": ["ssh_key", "password"]}
    NODE_STATE_MAP = convert.NODE_STATES
    VOLUME_STATE_MAP = convert.VOLUME_STATES

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

    def _href(self, key, ident):
        """A resource URI from a libcloud object, a URI or a short id."""
        ident = _id(ident)
        return ident if "://" in ident else self.cimi.href(key) + "/" + urllib.parse.quote(ident)

    def _done(self, result, wait=True):
        """Wait for the Job of a create/action (unless told not to); the resource as it is now."""
        if not wait:
            return self.cimi.get(result.location) if result.location else result.doc
        return self.cimi.finish(result, self.job_timeout)

    def _wait(self, result, wait=True):
        if wait and result.job:
            self.cimi.wait(result.job, self.job_timeout)
        return True

    def _delete(self, key, thing, wait=True):
        return self._wait(self.cimi.delete(self.cimi.get(self._href(key, thing))), wait)

    # --- nodes ------------------------------------------------------------------------------------------
    def list_nodes(self, ex_filter=None):
        ips = {}
        for address in self.cimi.addresses():
            ips.setdefault(address["resource"]["href"], []).append(address.get("ip"))
        return [convert.node(self, m, ips.get(m["id"], ())) for m in self.cimi.list("machines", filter=ex_filter)]

    def ex_get_node(self, node_id):
        machine = self.cimi.get(self._href("machines", node_id))
        return convert.node(self, machine, [a.get("ip") for a in self.cimi.addresses(machine)])

    def create_node(self, name, size=None, image=None, location=None, auth=None, ex_userdata=None,
                    ex_networks=None, ex_volumes=None, ex_keyname=None, ex_username=None, ex_template=None,
                    ex_description=None, ex_initial_state=None, ex_properties=None, ex_wait=True):
        """Create a Machine from a size (MachineConfiguration) and an image, or from ex_template.

        :param auth: NodeAuthSSHKey or NodeAuthPassword: a Credential NAME-auth is made with it
            (userName ex_username; without one the key goes to the image's default user)
        :param ex_keyname: instead of auth, a key pair (Credential) name
        :param ex_userdata: user data (str or bytes) handed to the guest
        :param ex_networks: Networks (CIMINetwork, id or name) to put a NIC on each
        :param ex_volumes: Volumes (StorageVolume, id or name, or (volume, device) pairs) to attach
        :param location: not accepted: the provider places each Machine on a host itself
        """
        if ex_template is None and (size is None or image is None):
            raise ValueError("create_node needs size and image (or ex_template)")
        if location is not None:
            raise LibcloudError("this provider chooses the host itself; create_node takes no location", self)
        if auth is not None and ex_keyname:
            raise ValueError("give auth or ex_keyname, not both")
        made = self._auth_credential(name, auth, ex_username)
        credential = made["id"] if made else ex_keyname and self.cimi.find("credentials", ex_keyname)["id"]
        volumes = [(_id(v[0]), v[1]) if isinstance(v, tuple) else _id(v) for v in ex_volumes or ()]
        user_data = ex_userdata.encode() if isinstance(ex_userdata, str) else ex_userdata
        try:
            body = self.cimi.machine_body(
                name, template=ex_template and self._href("machineTemplates", ex_template),
                config=size and self._href("machineConfigs", size), image=image and self._href("machineImages", image),
                description=ex_description, initial_state=ex_initial_state, properties=ex_properties,
                credential=credential, networks=[_id(n) for n in ex_networks or ()], volumes=volumes,
                user_data=user_data)
            result = self.cimi.create("machines", body)
        except Exception:
            if made:
                self.cimi.delete(made)      # a refused create leaves nothing behind
            raise
        machine = self._done(result, ex_wait)
        return convert.node(self, machine, [a.get("ip") for a in self.cimi.addresses(machine)])

    def _auth_credential(self, name, auth, user):
        if auth is None:
            return None
        if isinstance(auth, NodeAuthSSHKey):
            body = self.cimi.credential_body(f"{name}-auth", public_key=auth.pubkey, user=user)
        elif isinstance(auth, NodeAuthPassword):
            body = self.cimi.credential_body(f"{name}-auth", password=auth.password, user=user)
        else:
            raise ValueError(f"auth must be NodeAuthSSHKey or NodeAuthPassword, not {type(auth).__name__}")
        return self.cimi.finish(self.cimi.create("credentials", body), self.job_timeout)

    def _act(self, node, action, wait=True, **params):
        return self._wait(self.cimi.act(self.cimi.get(self._href("machines", node)), action, **params), wait)

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
        return self._delete("machines", node, ex_wait)

    def ex_capture_node(self, node, name, ex_description=None, ex_wait=True):
        """Capture a stopped Machine into a new MachineImage; return it as a NodeImage."""
        result = self.cimi.capture(self.cimi.get(self._href("machines", node)), name, ex_description)
        return convert.image(self, self._done(result, ex_wait))

    def ex_get_console_output(self, node, ex_tail=None):
        """The last ex_tail lines (server default 200) of the node's serial console: {"output": text}."""
        return {"output": self.cimi.console(self.cimi.get(self._href("machines", node)), ex_tail)}

    # --- sizes, images, locations ------------------------------------------------------------------------
    def list_sizes(self, location=None):
        return [convert.size(self, c) for c in self.cimi.list("machineConfigs")]

    def list_images(self, location=None, ex_filter=None):
        return [convert.image(self, i) for i in self.cimi.list("machineImages", filter=ex_filter)]

    def get_image(self, image_id):
        return convert.image(self, self.cimi.get(self._href("machineImages", image_id)))

    def ex_upload_image(self, path, name, ex_description=None, ex_wait=True):
        """Upload a local disk image file (qcow2, raw, vmdk) as a new MachineImage; return it as a NodeImage.

        Libcloud's compute API has no upload; this is the provider's ImageUpload, streamed from the file.
        """
        return convert.image(self, self._done(self.cimi.upload_image(path, name, ex_description), ex_wait))

    def delete_image(self, node_image):
        return self._delete("machineImages", node_image)

    def list_locations(self):
        """The hypervisor hosts that run the Machines this user sees (the cloud itself while there are none).

        CIMI has no host collection; a Machine's ``host`` names where placement put it.
        """
        hosts = sorted({m["host"] for m in self.cimi.list("machines", select="host") if m.get("host")})
        if not hosts:
            cep = self.cimi.cep
            return [NodeLocation(id=cep.get("baseURI", cep["id"]), name=cep.get("name", "cimi"), country="",
                                 driver=self)]
        return [NodeLocation(id=host, name=host, country="", driver=self) for host in hosts]

    def ex_list_machine_templates(self):
        return self.cimi.list("machineTemplates")

    # --- key pairs: Credentials with a public key ----------------------------------------------------------
    def list_key_pairs(self):
        return [convert.key_pair(self, c) for c in self.cimi.list("credentials")
                if c.get("key") or c.get("publicKey")]

    def get_key_pair(self, name):
        try:
            return convert.key_pair(self, self.cimi.find("credentials", name))
        except NotFound:
            raise KeyPairDoesNotExistError(name, self) from None

    def create_key_pair(self, name, ex_user=None):
        """Make an ed25519 key pair here; the server keeps the public key. The private key is returned once."""
        private, public = keys.generate(name)
        key_pair = self.import_key_pair_from_string(name, public, ex_user)
        key_pair.private_key = private
        return key_pair

    def import_key_pair_from_string(self, name, key_material, ex_user=None):
        body = self.cimi.credential_body(name, public_key=key_material, user=ex_user)
        return convert.key_pair(self, self.cimi.finish(self.cimi.create("credentials", body), self.job_timeout))

    def delete_key_pair(self, key_pair):
        try:
            credential = self.cimi.find("credentials", key_pair.extra.get("id") or key_pair.name)
        except NotFound:
            raise KeyPairDoesNotExistError(key_pair.name, self) from None
        return self._wait(self.cimi.delete(credential))

    # --- volumes ---------------------------------------------------------------------------------------------
    def list_volumes(self, ex_filter=None):
        return [convert.volume(self, v) for v in self.cimi.list("volumes", filter=ex_filter)]

    def ex_get_volume(self, volume_id):
        return convert.volume(self, self.cimi.get(self._href("volumes", volume_id)))

    def create_volume(self, size, name, location=None, snapshot=None, ex_capacity_kib=None, ex_config=None,
                      ex_description=None, ex_wait=True):
        """Create a Volume of ``size`` GiB (or ex_capacity_kib KiB, or from a VolumeConfiguration)."""
        capacity = ex_capacity_kib or (int(math.ceil(size * convert.KIB_PER_GIB)) if size else None)
        body = self.cimi.volume_body(name, capacity_kib=None if ex_config else capacity,
                                     config=ex_config and self._href("volumeConfigs", ex_config),
                                     description=ex_description)
        return convert.volume(self, self._done(self.cimi.create("volumes", body), ex_wait))

    def attach_volume(self, node, volume, device=None, ex_wait=True):
        machine = self.cimi.get(self._href("machines", node))
        return self._wait(self.cimi.attach(machine, {"id": self._href("volumes", volume)}, device), ex_wait)

    def ex_list_attached_volumes(self, node):
        """The volumes attached to a node: (StorageVolume, device) pairs."""
        machine = self.cimi.get(self._href("machines", node))
        attached = self.cimi.query(machine["volumes"]["href"]).get("machineVolumes", [])
        return [(self.ex_get_volume(mv["volume"]["href"]), mv.get("initialLocation")) for mv in attached]

    def detach_volume(self, volume, ex_node=None, ex_wait=True):
        """Detach a volume from ex_node, or from whichever machine has it attached; False if none has."""
        href = self._href("volumes", volume)
        if ex_node:
            machine = self.cimi.get(self._href("machines", ex_node))
            return self._wait(self.cimi.detach(machine, {"id": href}), ex_wait)
        found = self.cimi.attachments().get(href)
        return self._wait(self.cimi.delete(found[1]), ex_wait) if found else False

    def destroy_volume(self, volume, ex_wait=True):
        return self._delete("volumes", volume, ex_wait)

    # --- networks ----------------------------------------------------------------------------------------------
    def list_networks(self, ex_filter=None):
        return [convert.network(self, n) for n in self.cimi.list("networks", filter=ex_filter)]

    def ex_get_network(self, network_id):
        return convert.network(self, self.cimi.get(self._href("networks", network_id)))

    def ex_create_network(self, name, network_type="PRIVATE", cidr=None, ex_description=None, ex_wait=True):
        body = self.cimi.network_body(name, network_type, cidr, description=ex_description)
        return convert.network(self, self._done(self.cimi.create("networks", body), ex_wait))

    def ex_start_network(self, network, ex_wait=True):
        return self._wait(self.cimi.act(self.cimi.get(self._href("networks", network)), "start"), ex_wait)

    def ex_stop_network(self, network, ex_wait=True):
        return self._wait(self.cimi.act(self.cimi.get(self._href("networks", network)), "stop"), ex_wait)

    def ex_destroy_network(self, network, ex_wait=True):
        return self._delete("networks", network, ex_wait)

    # --- jobs -------------------------------------------------------------------------------------------------
    def ex_list_jobs(self, ex_filter=None):
        return self.cimi.list("jobs", filter=ex_filter)

    def ex_get_job(self, job_id):
        return self.cimi.get(self._href("jobs", job_id))

    def ex_wait_for_job(self, job_id, timeout=None):
        """Wait for a CIMI Job; return it (CIMIJobFailedError if it fails)."""
        return self.cimi.wait(self._href("jobs", job_id), timeout or self.job_timeout)

    def ex_get_cloud_entry_point(self):
        return dict(self.cimi.cep)
