"""The JSON Schemas of every CIMI resource type, and what we derive from them.

Each `<Type>.json` lists the type's own attributes in DSP8009 (XSD) order; the
common attributes (id, name, description, created, updated, properties) are
implied unless `"x-common": false`. Annotations beyond JSON Schema:

- `x-ref: T`            a reference `{"href"}` to a resource of type T ("*": any)
- `x-refOrValue: T`     a T given by reference (href plus overrides) or by value
- `x-collection: T`     a collection attribute holding T items (read-only href)
- `x-properties`        a string-to-string map (`properties`)
- `x-operations`        where `operations` sits when not last (Credential)
- `x-xmlName`           the singular XML element of an array item
- `x-xmlAttribute`      an XML attribute, not a child element
- `x-extension`         an extension attribute, in our XML namespace
- `x-acl: true`         the `acl` extension attribute (schemas/parts/acl.json): who may
                        read the resource besides its owner (cimi/store/sharing.py)
- `x-jsonOnly`          emitted in JSON only (aliases the XSD has no place for)
- `x-secret`            accepted, stored, never shown (passwords)
- `x-extraProperties`   attributes added to a reference (initialLocation)
- `x-eventLog`          the href of the resource's EventLog (same id; cimi/store/events.py)
- `readOnly`            provider-set; ignored in request bodies (DSP0263 4.2.1.3)
- `x-column: true`      queries filter on it: the store keeps it in a typed, indexed
                        column of the kind's table beside the JSON (`columns`); on an
                        `x-ref` the column holds the reference's href
- `x-column: "desc"`    the same, and listings sort on it largest or newest first: also
                        indexed in that order with the paging tie-breaks, so that a page
                        is read off the index. Either needs a migration that makes the
                        column and its indexes (cimi/store/migrations).
- `x-createOnly`        set when the resource is created, read-only afterwards (a Quota's user)

From these one place derives request validation (`validator`), input
coercion (`coerce`), XML mapping (cimi/xml.py), ResourceMetadata and the
store's typed columns (`columns`).
"""
import copy
import functools
import json
from pathlib import Path

import jsonschema

HERE = Path(__file__).parent
COMMON = ("id", "name", "description", "created", "updated", "properties")
_COMMON_SCHEMA = {
    "id": {"type": "string"}, "name": {"type": "string", "maxLength": 1024},
    "description": {"type": "string", "maxLength": 65536},
    "created": {"type": "string", "readOnly": True}, "updated": {"type": "string", "readOnly": True},
    "properties": {"x-properties": True},
}


class SchemaError(Exception):
    """A request body does not match its schema; the message says where."""


@functools.cache
def load(name):
    """Return the schema of a type, with the common attributes in place."""
    path = HERE / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no schema for CIMI type {name!r}")
    raw = json.loads(path.read_text())
    props = {}
    if raw.get("x-common", True):
        props.update(copy.deepcopy(_COMMON_SCHEMA))
    props.update(raw["properties"])
    for name, prop in props.items():
        if prop.get("x-acl"):
            props[name] = {**copy.deepcopy(_part("acl")), "x-acl": True}
    if "operations" not in props:
        props["operations"] = {"x-operations": True}
    for p in props.values():
        if p.get("x-operations"):
            p["readOnly"] = True
    return {**raw, "properties": props}


@functools.cache
def _part(name):
    """A property schema several types share (schemas/parts/)."""
    return json.loads((HERE / "parts" / f"{name}.json").read_text())


def shareable(name):
    """Whether resources of a type carry an `acl` (x-acl) and may be shared."""
    return any(prop.get("x-acl") for prop in load(name)["properties"].values())


@functools.cache
def columns(name):
    """Return the `x-column` attributes of a type: {'/'-joined path: CIMI type}, in schema order.

    The type is "string", "integer", "boolean" or "dateTime" (a string with
    format date-time); a reference's column is its href, a string.
    """
    out = {}
    for attribute, prop in load(name)["properties"].items():
        mark = prop.get("x-column")
        if not mark:
            continue
        if "x-ref" in prop or "x-refOrValue" in prop:
            path, type_ = f"{attribute}/href", "string"
        elif prop.get("format") == "date-time":
            path, type_ = attribute, "dateTime"
        else:
            path, type_ = attribute, prop.get("type")
        if type_ not in ("string", "integer", "boolean", "dateTime") or mark not in (True, "desc") or (
                mark == "desc" and type_ not in ("integer", "dateTime")):
            raise ValueError(f'{name}.{attribute}: x-column is true (on a string, integer, boolean, date-time '
                             f'or reference) or "desc" (on an integer or date-time)')
        out[path] = type_
    return out


def names():
    """Return every type with a schema."""
    return sorted(p.stem for p in HERE.glob("*.json"))


def _input_schema(prop, by_ref=False):
    """Turn an annotated property into plain JSON Schema for request bodies."""
    if "x-ref" in prop:
        extra = {k: _input_schema(v) for k, v in prop.get("x-extraProperties", {}).items()}
        return {"type": "object", "properties": {"href": {"type": "string"}, **extra}, "required": ["href"]}
    if "x-refOrValue" in prop:
        extra = prop.get("x-extraProperties", {})
        return _object_schema(load(prop["x-refOrValue"]), by_ref=True, extra=extra)
    if prop.get("x-properties"):
        return {"type": "object", "additionalProperties": {"type": "string", "maxLength": 65536}, "maxProperties": 256}
    if prop.get("type") == "array":
        return {"type": "array", "maxItems": 256, "items": _input_schema(prop["items"])}
    if prop.get("type") == "object":
        return _object_schema(prop, extra={})
    return {k: v for k, v in prop.items()
            if k in ("type", "enum", "minimum", "maximum", "pattern", "minLength", "maxLength", "description")}


def _object_schema(schema, by_ref=False, extra=None):
    props = {"resourceURI": {"type": "string"}} if "title" in schema else {}
    for name, prop in list(schema["properties"].items()) + list((extra or {}).items()):
        if not prop.get("readOnly") or name == "id":
            props[name] = _input_schema(prop)
    out = {"type": "object", "properties": props, "additionalProperties": False}
    required = [r for r in schema.get("required", ()) if r in props]
    if by_ref:
        props["href"] = {"type": "string"}
        if required:
            out["anyOf"] = [{"required": ["href"]}, {"required": required}]
    elif required:
        out["required"] = required
    return out


@functools.cache
def validator(name):
    """Return a validator for request bodies of a type (by value)."""
    return jsonschema.Draft202012Validator(_object_schema(load(name)))


def validate(name, data):
    """Raise SchemaError naming the first problem of a request body."""
    error = jsonschema.exceptions.best_match(validator(name).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        if error.validator == "anyOf" and "required" in error.schema["anyOf"][1]:
            needed = ", ".join(error.schema["anyOf"][1]["required"])
            raise SchemaError(f"{where}: give an href, or by value all of: {needed}")
        if error.validator == "additionalProperties":
            raise SchemaError(f"{where}: {error.message} (unknown attributes are refused, DSP0263 5.3)")
        given = _quoted(error.instance)
        if error.validator == "pattern":          # a regular expression tells a user nothing
            hint = error.schema.get("description")
            raise SchemaError(f"{where}: {given} is not in the expected form" + (f" ({hint})" if hint else ""))
        if error.validator == "maxLength":
            raise SchemaError(f"{where}: {len(error.instance)} characters, more than {error.validator_value}")
        raise SchemaError(f"{where}: {error.message.replace(repr(error.instance), given)}")


def _quoted(value, most=80):
    """A client's value as an error message quotes it: cut short, so a 5000-character name is not sent back."""
    text = repr(value)
    return text if len(text) <= most else text[:most] + f"… ({len(text)} characters)"


def strip_read_only(name, data, edit=False):
    """Drop provider-set attributes a client echoed back (they are ignored); in an edit, create-only ones too."""
    props = load(name)["properties"]
    return {k: v for k, v in data.items()
            if k == "id" or not (props.get(k, {}).get("readOnly") or edit and props.get(k, {}).get("x-createOnly"))}


def coerce(schema, data):
    """Trim strings and turn digit strings and "true"/"false" into numbers and booleans.

    Real clients send `"capacity": "1"` and padded XML text; being liberal here
    lets one strict schema judge JSON and XML bodies alike.
    """
    if isinstance(data, dict) and isinstance(schema, dict):
        props = _props_of(schema)
        return {k: coerce(props.get(k), v) for k, v in data.items()}
    if isinstance(data, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        return [coerce(items, v) for v in data]
    if isinstance(data, str):
        text = data.strip()
        kind = (schema or {}).get("type")
        if kind == "integer" and text.isdigit():
            return int(text)
        if kind == "boolean" and text in ("true", "false"):
            return text == "true"
        return text
    if isinstance(data, dict) and (schema or {}).get("type") == "string" and set(data) == {"href"}:
        return data["href"]        # imageLocation given as {"href"} (Deltacloud)
    return data


def _props_of(schema):
    """Return the attribute schemas of an object-valued property."""
    if "x-refOrValue" in schema:
        return {**load(schema["x-refOrValue"])["properties"], **schema.get("x-extraProperties", {})}
    if "x-ref" in schema and schema["x-ref"] != "*":
        return {**load(schema["x-ref"])["properties"], **schema.get("x-extraProperties", {})}
    if "title" in schema or "properties" in schema:
        return schema.get("properties", {})
    return {}


def props_of(schema):
    """Public view of `_props_of` for the XML mapping."""
    return _props_of(schema)


def references(schema, value):
    """Yield (type, href) of every reference in a body, however deeply given."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, list):
        for item in value:
            yield from references(schema.get("items"), item)
        return
    if not isinstance(value, dict):
        return
    target = schema.get("x-ref") or schema.get("x-refOrValue")
    if target and target != "*" and isinstance(value.get("href"), str):
        yield target, value["href"]
    props = _props_of(schema) if target or "title" in schema or "properties" in schema else {}
    for name, item in value.items():
        if name != "href":
            yield from references(props.get(name), item)


def reference_paths(schema):
    """Yield (path, type, read-only) of every reference a document of this schema can hold.

    A path is a tuple of attribute names, "[]" standing for the items of a
    list; references given by value are followed into the value, once per
    type (a MachineTemplate's machineConfig, its volumeTemplates' volumeImage).
    """
    yield from _reference_paths(schema.get("properties", {}), (), frozenset())


def _reference_paths(props, path, seen):
    for name, prop in props.items():
        yield from _reference_path(prop, (*path, name), seen)


def _reference_path(prop, path, seen):
    if not isinstance(prop, dict):
        return
    if "items" in prop:
        yield from _reference_path(prop["items"], (*path, "[]"), seen)
        return
    target = prop.get("x-ref") or prop.get("x-refOrValue")
    if target:
        if target != "*":
            yield path, target, bool(prop.get("readOnly"))
        if "x-refOrValue" in prop and target not in seen:
            yield from _reference_paths(_props_of(prop), path, seen | {target})
    elif "properties" in prop:
        yield from _reference_paths(prop["properties"], path, seen)


def redact(schema, value):
    """Drop `x-secret` attributes from a value, however deeply nested (passwords)."""
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        return [redact(items, v) for v in value]
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    props = _props_of(schema)
    return {k: redact(props.get(k), v) for k, v in value.items() if not props.get(k, {}).get("x-secret")}
