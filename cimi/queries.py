"""The CIMI query parameters of a request, ready for the store.

Parsing and SQL translation live in cimi/query/; this module reads them from
the falcon request for one kind.
"""
from dataclasses import dataclass, field

from cimi import errors


@dataclass
class Query:
    where: object = None
    order: tuple = ()
    first: int | None = None
    last: int | None = None
    select: list = field(default_factory=list)
    expand: list = field(default_factory=list)


def _names(req, name):
    """Union of a repeatable comma-separated parameter (None when absent)."""
    values = req.get_param_as_list(name) if req.has_param(name) else None
    if values is None:
        return []
    names = [v.strip() for value in values for v in value.split(",")]
    return names or [""]


def _position(req, name):
    text = req.get_param(name)
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise errors.BadRequest(f"{name} must be a positive integer, got {text!r}")
    return int(text)


def parse_item(req):
    return Query(select=[n for n in _names(req, "$select") if n], expand=_names(req, "$expand"))


def parse(req, kind):
    q = parse_item(req)
    q.first, q.last = _position(req, "$first"), _position(req, "$last")
    return q
