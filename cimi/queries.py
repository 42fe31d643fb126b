"""The CIMI query parameters of a request, compiled for one kind's table.

The language itself (grammar, SQL translation, paging) is cimi/query/; this
module knows which attributes each kind has, from its schema.
"""
import functools

from cimi import errors, registry, store
from cimi.query import ALL, QueryError, parse_query
from cimi.query.params import parse_expand, parse_select

COLUMNS = {"name": "string", "description": "string", "created": "dateTime", "updated": "dateTime",
           "state": "string"}
_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean"}


def attribute_types(kind):
    """Return the filterable attributes of a kind ('/'-joined paths) and their types."""
    types = {}
    for name, prop in kind.schema["properties"].items():
        if name in COLUMNS or name in ("id", "properties") or prop.get("x-secret"):
            continue
        types.update(_types(name, prop))
    props = kind.schema["properties"]
    types.update({c: t for c, t in COLUMNS.items() if c in props or c in ("created", "updated", "name")})
    return types


def _types(path, prop):
    if "x-ref" in prop or "x-refOrValue" in prop:
        return {f"{path}/href": "string"}
    if prop.get("format") == "date-time":
        return {path: "dateTime"}
    if prop.get("type") in _TYPES:
        return {path: _TYPES[prop["type"]]}
    if prop.get("type") == "object" and "properties" in prop:      # a structure (an Event's content)
        return {k: v for name, sub in prop["properties"].items() for k, v in _types(f"{path}/{name}", sub).items()}
    return {}


@functools.cache
def resolver(kind_name):
    kind = registry.get(kind_name)
    return store.table_resolver(kind_name, attribute_types(kind), set(COLUMNS) | {"properties"})


def parse(params, kind):
    """Return the checked CollectionQuery of a collection GET's query parameters (400 on a bad query)."""
    try:
        return parse_query(params, resolver(kind.name))
    except QueryError as exc:
        raise errors.BadRequest(f"bad query: {exc}") from None


def parse_item(params):
    """Return ($select, $expand) of a single-resource request's query parameters, as sets (ALL: everything)."""
    try:
        return parse_select(_values(params, "$select")), parse_expand(_values(params, "$expand"))
    except QueryError as exc:
        raise errors.BadRequest(f"bad query: {exc}") from None


def _values(params, name):
    value = params.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


__all__ = ["ALL", "parse", "parse_item"]
