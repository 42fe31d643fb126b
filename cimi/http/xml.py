"""CIMI XML in and out, for every type, driven by the schemas.

The JSON form (a plain dict) is the model; this module maps it to the 1.x XML
form (DSP8009) and back using each type's schema for element order, arrays
(`x-xmlName`), references (`href` attributes) and XML attributes. Untrusted
XML is parsed only by `parse`, which refuses DTDs and entities.
"""
from lxml import etree

import schemas
from cimi.vocabulary import EXTENSION_NS, NAMESPACE, items_key
from ovf.xmlsafe import declares_dtd, hardened_parser, has_doctype_text

MAX_DEPTH = 32
_PARSER = hardened_parser()


class XMLError(ValueError):
    """An XML body that is malformed or hostile."""


def parse(body):
    """Parse an untrusted XML body into its root element."""
    if has_doctype_text(body):
        raise XMLError("XML bodies must not carry a DOCTYPE or entities")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"malformed XML: {exc}") from None
    if declares_dtd(root):
        raise XMLError("XML bodies must not carry a DOCTYPE or entities")   # APPSEC: also in UTF-16
    for el in root.iter():
        if el is not root and _depth(el) > MAX_DEPTH:
            raise XMLError(f"XML nested deeper than {MAX_DEPTH} levels")
    return root


def _depth(el):
    depth = 0
    while el is not None:
        el, depth = el.getparent(), depth + 1
    return depth


def local_name(tag):
    return etree.QName(tag).localname if isinstance(tag, str) else None


# --- XML -> dict -------------------------------------------------------------

def read(el, type_name):
    """Return the JSON-form dict of an XML element of a type."""
    return _read(el, schemas.load(type_name)["properties"])


def _read(el, props):
    out = {}
    for attr, value in el.attrib.items():
        out[local_name(attr)] = value
    by_xml_name = {}
    for name, prop in props.items():
        xml_name = prop.get("x-xmlName") or (prop.get("items") or {}).get("x-xmlName")
        if xml_name:
            by_xml_name[xml_name] = name
    for child in el:
        local = local_name(child.tag)
        if local is None:
            continue
        if local == "property" and child.get("key") is not None:
            out.setdefault("properties", {})[child.get("key")] = child.text or ""
            continue
        if local in ("operation", "operations"):
            continue
        name = by_xml_name.get(local, local)
        prop = props.get(name)
        if prop is None:
            out[local] = _read(child, {}) if len(child) or child.attrib else (child.text or "")
        elif prop.get("type") == "array":
            out.setdefault(name, []).append(_read_value(child, prop["items"]))
        else:
            out[name] = _read_value(child, prop)
    return out


def _read_value(el, prop):
    if _is_structured(prop):
        return _read(el, schemas.props_of(prop))
    return el.text or ""


def _is_structured(prop):
    return any(k in prop for k in ("x-ref", "x-refOrValue", "x-collection", "properties", "title"))


# --- dict -> XML -------------------------------------------------------------

def _tag(name, prop=None):
    ns = EXTENSION_NS if prop and prop.get("x-extension") else NAMESPACE
    return f"{{{ns}}}{name}"


def element(type_name, data, tag=None):
    """Return the XML element of a resource of a type (tag: its root name).

    A type that is itself an extension (schema `x-extension`, not in DSP8009) has
    its root in our namespace; its attributes keep the CIMI names.
    """
    schema = schemas.load(type_name)
    el = etree.Element(_tag(tag or type_name, schema), nsmap={None: NAMESPACE})
    _fill(el, data, schema["properties"])
    return el


def collection_element(data, items_key, item_type):
    """Return `<Collection resourceURI=...>` with the items directly under it (1.x)."""
    el = etree.Element(_tag("Collection"), nsmap={None: NAMESPACE})
    el.set("resourceURI", data["resourceURI"])
    _fill_collection(el, data, items_key, item_type)
    return el


def _fill_collection(el, data, items_key, item_type):
    for key in ("id", "count"):
        if key in data:
            etree.SubElement(el, _tag(key)).text = _text(data[key])
    schema = schemas.load(item_type)
    for item in data.get(items_key, ()):
        _fill(etree.SubElement(el, _tag(item_type, schema)), item, schema["properties"])
    _operations(el, data.get("operations", ()))


def _fill(el, data, props):
    for name, prop in props.items():
        if name not in data or data[name] is None or prop.get("x-jsonOnly"):
            continue
        value = data[name]
        if prop.get("x-xmlAttribute"):
            el.set(_tag(name, prop) if prop.get("x-extension") else name, _text(value))
        elif prop.get("x-properties"):
            for key, text in value.items():
                child = etree.SubElement(el, _tag("property"), key=key)
                child.text = text
        elif prop.get("x-operations"):
            _operations(el, value)
        elif prop.get("type") == "array":
            item_prop = {**prop["items"], "x-extension": prop.get("x-extension")}
            for item in value:
                _child(el, item_prop.get("x-xmlName", name), item_prop, item)
        else:
            _child(el, name, prop, value)


def _child(el, name, prop, value):
    child = etree.SubElement(el, _tag(name, prop))
    if "x-collection" in prop:
        if "href" in value:
            child.set("href", value["href"])
        if "id" in value:          # expanded ($expand)
            item_type = prop["x-collection"]
            _fill_collection(child, value, items_key(item_type), item_type)
    elif _is_structured(prop):
        if isinstance(value, dict):
            if "href" in value:
                child.set("href", value["href"])
            _fill(child, value, schemas.props_of(prop) if prop.get("x-ref") != "*" else {})
    else:
        child.text = _text(value)


def _operations(el, operations):
    for op in operations:
        etree.SubElement(el, _tag("operation"), rel=op["rel"], href=op["href"])


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tostring(el):
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8")
