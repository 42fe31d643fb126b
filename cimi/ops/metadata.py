"""ResourceMetadata: generated from the schemas and kind declarations, kept as rows.

Kept in the store (refreshed at every start) so that the generic collection
machinery ($filter, $select, paging) serves it like any other kind.
"""

import schemas
from cimi import registry, store
from cimi.vocabulary import EXTENSION_NS, capability_uri, type_uri


_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean"}
CEP_CAPABILITIES = (("ExpandParameter", "true", "$expand is supported"),
                    ("FilterParameter", "true", "$filter is supported"),
                    ("FirstParameter", "true", "$first and $last are supported"),
                    ("SelectParameter", "true", "$select is supported"),
                    ("FormatParameter", "true", "$format is supported"),
                    ("OrderByParameter", "true", "$orderby is supported"))


def _attribute(name, prop, required):
    if "x-ref" in prop or "x-refOrValue" in prop:
        kind = "ref"
    elif "x-collection" in prop:
        kind = "collection"
    elif prop.get("x-properties"):
        kind = "map"
    else:
        kind = _TYPES.get(prop.get("type"), prop.get("type", "string"))
    return {"name": name, "namespace": EXTENSION_NS if prop.get("x-extension") else "",
            "type": kind, "required": name in required}


def describe(kind):
    """Return the ResourceMetadata attributes of one kind."""
    schema = schemas.load(kind.name)
    required = set(schemas.load(kind.create_schema).get("required", ())) if kind.create_schema == kind.name else set()
    attributes = [_attribute(n, p, required) for n, p in schema["properties"].items() if n != "operations"]
    capabilities = [{"name": n, "uri": capability_uri(kind.name, n), "description": d, "value": v}
                    for n, v, d in kind.capabilities]
    actions = [{"name": a.name, "uri": a.rel or type_uri("action/" + a.name), "description": f"{a.name} the {kind.name}",
                "method": "POST", "inputMessage": "application/json", "outputMessage": "application/json"}
               for a in kind.actions.values()]
    # Extension operations read with GET; their parameters are the query string.
    actions += [{"name": v.name, "uri": v.rel, "description": f"read the {kind.name}'s {v.name}", "method": "GET",
                 "inputMessage": "application/x-www-form-urlencoded", "outputMessage": v.media_type.split(";")[0]}
                for v in kind.views.values()]
    return {"typeURI": type_uri(kind.name), "typeUri": type_uri(kind.name), "attributes": attributes,
            "capabilities": capabilities, "actions": actions}


def publish(cep_capabilities=CEP_CAPABILITIES):
    """Write one ResourceMetadata row per kind (and the CloudEntryPoint)."""
    entries = [(k.name, describe(k)) for k in registry.all_kinds() if k.name != "ResourceMetadata"]
    entries.append(("CloudEntryPoint", {"typeURI": type_uri("CloudEntryPoint"), "typeUri": type_uri("CloudEntryPoint"),
                                        "capabilities": [{"name": n, "uri": capability_uri("CloudEntryPoint", n),
                                                          "description": d, "value": v} for n, v, d in cep_capabilities],
                                        "attributes": [], "actions": []}))
    store.replace_all("ResourceMetadata", [{"id": name.lower(), "name": name, "data": data} for name, data in entries])
