"""The CIMI documents a client POSTs: Create wrappers and templates, built from names or ids.

A mixin of :class:`cimiclient.Client`: every reference given by name, short
id or URL is resolved with ``find`` (so an ambiguous name is an error before
anything is sent), and the body carries only what the caller gave.
"""
import base64

from cimiclient.errors import BadRequest, CimiError

NS = "http://schemas.dmtf.org/cimi/1/"

#: Where a client records the Credential a Machine was made with (Machine has no such attribute).
CREDENTIAL_PROPERTY = "credential"


def credential_template(public_key: str | None = None, user: str | None = None,
                        password: str | None = None) -> dict:
    """A CredentialTemplate by value: the key travels as hexBinary (DSP0263 5.11)."""
    if not (public_key or password):
        raise BadRequest("a Credential needs a public key or a password")
    template = {}
    if user:
        template["userName"] = user
    if password:
        template["password"] = password
    if public_key:
        line = public_key.strip()
        if not line.startswith(("ssh-", "ecdsa-", "sk-")) or "\n" in line:
            raise BadRequest("the public key must be one OpenSSH public key line (ssh-ed25519 AAAA..., ssh-rsa ...)")
        template["key"] = line.encode().hex()
    return template


def public_key_of(credential: dict) -> str | None:
    """The OpenSSH public key line a Credential carries, if any."""
    if credential.get("publicKey"):
        return credential["publicKey"]
    try:
        return bytes.fromhex(credential["key"]).decode() if credential.get("key") else None
    except (ValueError, UnicodeDecodeError):
        return None


def create_body(type_name, template_key, template, name=None, description=None, properties=None) -> dict:
    """A ``<Type>Create`` document wrapping a template (DSP0263 4.2.1.1)."""
    body = {"resourceURI": NS + type_name}
    if name:
        body["name"] = name
    if description:
        body["description"] = description
    if properties:
        body["properties"] = dict(properties)
    body[template_key] = template
    return body


class Documents:
    """Builders of create documents; ``self.find`` resolves references."""

    def machine_template(self, config=None, image=None, credential=None, networks=(), volumes=(),
                         user_data: bytes | None = None, initial_state=None) -> dict:
        """A MachineTemplate by value (volumes as names or (name, initialLocation) pairs)."""
        if not (config and image):
            raise CimiError("a Machine needs a template, or a configuration and an image")
        template = {"machineConfig": {"href": self.find("machineConfigs", config)["id"]},
                    "machineImage": {"href": self.find("machineImages", image)["id"]}}
        self._template_extras(template, credential, networks, volumes, user_data, initial_state)
        return template

    def _template_extras(self, template, credential, networks, volumes, user_data, initial_state):
        if credential:
            template["credential"] = {"href": self.find("credentials", credential)["id"]}
        if networks:
            template["networkInterfaces"] = [{"network": {"href": self.find("networks", n)["id"]}}
                                             for n in networks]
        if volumes:
            template["volumes"] = []
            for vol in volumes:
                ident, location = vol if isinstance(vol, tuple) else (vol, None)
                ref = {"href": self.find("volumes", ident)["id"]}
                if location:
                    ref["initialLocation"] = location
                template["volumes"].append(ref)
        if user_data is not None:
            template["userData"] = base64.b64encode(user_data).decode()
        if initial_state:
            template["initialState"] = initial_state

    def machine_body(self, name=None, template=None, config=None, image=None, description=None,
                     initial_state=None, properties=None, credential=None, networks=(), volumes=(),
                     user_data: bytes | None = None) -> dict:
        """A MachineCreate: by template reference (plus overrides), or by value from config and image.

        The Credential's href is also kept in the Machine's properties, where
        ``cimi machines ssh`` finds the user name to log in as.
        """
        if template:
            referenced = self.find("machineTemplates", template)
            tpl = {"href": referenced["id"]}
            self._template_extras(tpl, credential, networks, volumes, user_data, initial_state)
        else:
            referenced = {}
            tpl = self.machine_template(config, image, credential, networks, volumes, user_data, initial_state)
        login = (tpl.get("credential") or referenced.get("credential") or {}).get("href")
        if login:
            properties = {CREDENTIAL_PROPERTY: login, **(properties or {})}
        return create_body("MachineCreate", "machineTemplate", tpl, name, description, properties)

    def volume_body(self, name=None, capacity_kib=None, config=None, template=None, description=None,
                    volume_type=NS + "mapped", properties=None) -> dict:
        """A VolumeCreate from a template, a configuration, or a capacity in KiB."""
        if template:
            tpl = {"href": self.find("volumeTemplates", template)["id"]}
        elif config:
            tpl = {"volumeConfig": {"href": self.find("volumeConfigs", config)["id"]}}
        elif capacity_kib:
            tpl = {"volumeConfig": {"type": volume_type, "capacity": int(capacity_kib)}}
        else:
            raise CimiError("a Volume needs a capacity, a configuration or a template")
        return create_body("VolumeCreate", "volumeTemplate", tpl, name, description, properties)

    def network_body(self, name=None, network_type=None, cidr=None, config=None, template=None,
                     description=None, properties=None) -> dict:
        """A NetworkCreate from a template, a configuration, or a type and CIDR."""
        if template:
            tpl = {"href": self.find("networkTemplates", template)["id"]}
        elif config:
            tpl = {"networkConfig": {"href": self.find("networkConfigs", config)["id"]}}
        else:
            cfg = {"networkType": (network_type or "PRIVATE").upper()}
            if cidr:
                cfg["cidr"] = cidr
            tpl = {"networkConfig": cfg}
        return create_body("NetworkCreate", "networkTemplate", tpl, name, description, properties)

    @staticmethod
    def credential_body(name=None, public_key=None, user=None, password=None, description=None) -> dict:
        """A CredentialCreate by value."""
        return create_body("CredentialCreate", "credentialTemplate",
                           credential_template(public_key, user, password), name, description)

    def system_body(self, name=None, template=None, description=None) -> dict:
        """A SystemCreate from a SystemTemplate reference."""
        tpl = {"href": self.find("systemTemplates", template)["id"]}
        return create_body("SystemCreate", "systemTemplate", tpl, name, description)

    @staticmethod
    def configuration_body(name, cpu: int, memory_kib: int, disk_kib: int | None = None, description=None) -> dict:
        """A MachineConfiguration (the provider's sizes: admins only)."""
        body = {"resourceURI": NS + "MachineConfiguration", "name": name, "cpu": int(cpu), "memory": int(memory_kib),
                "cpuArch": "x86_64"}
        if disk_kib:
            body["disks"] = [{"capacity": int(disk_kib), "format": "raw"}]
        if description:
            body["description"] = description
        return body

    def template_body(self, name, config, image, credential=None, networks=(), volumes=(),
                      user_data: bytes | None = None, description=None) -> dict:
        """A MachineTemplate resource (references resolved)."""
        body = {"resourceURI": NS + "MachineTemplate", "name": name,
                **self.machine_template(config, image, credential, networks, volumes, user_data)}
        if description:
            body["description"] = description
        return body
