"""The CIMI wire vocabulary: one place for the namespace and version.

We speak CIMI 1.x (type URIs and the XML namespace under .../cimi/1, the
CIMI-Specification-Version header) which plugfest clients expect; a 2.0 mode
would swap PREFIX and SPEC_VERSIONS here.
"""
PREFIX = "http://schemas.dmtf.org/cimi/1"
NAMESPACE = PREFIX
SPEC_VERSIONS = ("1.0.1", "1.1.0")
SPEC_VERSION = SPEC_VERSIONS[0]
# Extension attributes (declared in ResourceMetadata) live in our own XML namespace,
# which the 1.x XSD admits through xs:any namespace="##other".
EXTENSION_NS = "urn:darn-simple-cloud:cimi"

# Core operation rels are bare words (DSP0263 4.2); every other rel is a URI.
ADD, EDIT, DELETE = "add", "edit", "delete"


def type_uri(name):
    """Return the type URI of a resource, collection or wrapper name."""
    return f"{PREFIX}/{name}"


def action_uri(name):
    return f"{PREFIX}/action/{name}"


def extension_uri(name):
    """Return the rel of one of our extension operations, e.g. urn:darn-simple-cloud:cimi:console."""
    return f"{EXTENSION_NS}:{name}"


def capability_uri(resource, name):
    return f"{PREFIX}/capability/{resource}/{name}"


def action_name(uri):
    """Return the operation named by an Action's `action` text.

    Plugfest clients send padded or mangled URIs (" http://http://.../stop"),
    so only the last path segment counts (cimi-reference 4.1); an extension
    URI (urn:darn-simple-cloud:cimi:restore) ends with its name too.
    """
    return (uri or "").strip().rstrip("/").rsplit("/", 1)[-1].removeprefix(EXTENSION_NS + ":")


_ITEMS_KEYS = {"Address": "addresses", "MachineNetworkInterfaceAddress": "machineNetworkInterfaceAddresses",
               "ResourceMetadata": "resourceMetadata"}


def items_key(type_name):
    """Return the JSON key of a collection's items: the lower-camel plural (cimi-reference 2.2)."""
    return _ITEMS_KEYS.get(type_name) or type_name[0].lower() + type_name[1:] + "s"
