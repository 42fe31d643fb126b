"""Read the CIMI collection query parameters of one request.

DSP0263 4.1.6: ``$filter`` (see ``cimi.store.sql``), ``$first``/``$last``
(4.1.6.2), ``$select`` (4.1.6.3), ``$expand`` (4.1.6.4) and ``$orderby``
(4.1.6.6). Unknown parameters are the caller's to ignore. Every refusal
is a QueryError, which the HTTP layer answers with 400.

The order of work is fixed by 4.1.6.2: filter, then count, then sort,
then subset; :class:`CollectionQuery` applies the steps in that order.
"""

import dataclasses
import re

from cimi.store import sql
from cimi.query.errors import QueryError

ALL = "*"
# Past this the value is clipped, not refused: any part of the range
# beyond the collection is simply empty (4.1.6.2), and it keeps OFFSET
# within a 64-bit integer on both databases.
MAX_POSITION = 10 ** 18
MAX_ORDER_KEYS = 16
_POSITION = re.compile(r"[0-9]+")
_ORDER_KEY = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)(?::(?P<dir>asc|desc))?")


@dataclasses.dataclass(frozen=True)
class Page:
    """The 1-based inclusive range ``[first, last]``; None is open."""

    first: int = None
    last: int = None

    @property
    def offset(self):
        """Entries to skip before the first one returned."""
        return max(self.first or 1, 1) - 1

    @property
    def limit(self):
        """Entries to return at most, or None for all the rest."""
        if self.last is None:
            return None
        return max(0, self.last - self.offset)

    def apply(self, query):
        """Restrict an (ordered) peewee query to this page."""
        if self.offset:
            query = query.offset(self.offset)
        return query if self.limit is None else query.limit(self.limit)


def _position(name, text):
    text = text.strip()
    if not _POSITION.fullmatch(text):
        raise QueryError(f"{name} must be a non-negative integer, not {text!r}")
    # NOTE: compare lengths first; int() of a huge digit string is slow.
    # 0 is out of range, which clips rather than fails (4.1.6.2).
    return MAX_POSITION if len(text) > 18 else int(text)


def parse_page(first=None, last=None):
    """Read ``$first`` and ``$last``; either may be None (absent).

    Raises:
        QueryError: for a value that is not a non-negative integer.
    """
    return Page(None if first is None else _position("$first", first),
                None if last is None else _position("$last", last))


def _names(values):
    names = set()
    for value in values:
        names.update(name.strip() for name in value.split(","))
    names.discard("")
    return frozenset(names)


def parse_select(values):
    """Read every ``$select`` value; their union, or ``{ALL}`` for all.

    Unknown names are kept: the caller ignores those that fit nothing
    (4.1.6.3). No ``$select`` at all selects everything.
    """
    values = list(values)
    names = _names(values)
    return frozenset({ALL}) if not values or ALL in names else names


def parse_expand(values):
    """Read every ``$expand`` value; their union, or ``{ALL}`` for all.

    No ``$expand`` expands nothing; ``*`` or an empty value expands every
    reference (4.1.6.4).
    """
    values = list(values)
    names = _names(values)
    if ALL in names or any(not value.strip() for value in values):
        return frozenset({ALL})
    return names


def parse_orderby(values, resolve):
    """Turn every ``$orderby`` value into peewee orderings, in order.

    Resources without the attribute come last in either direction, on
    both databases: 4.1.6.6 orders values only, and ``cpu:desc`` with
    ``$first=1&$last=1`` should give the largest cpu, not a missing one.
    Pass a unique column as tiebreak to ``CollectionQuery.paged`` so that
    positions are stable (4.1.6.2).

    Raises:
        QueryError: for a malformed key, an unknown attribute, or an
            attribute that has no sort order.
    """
    orderings = []
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            match = _ORDER_KEY.fullmatch(item)
            if not match:
                raise QueryError(f"invalid $orderby key {item!r}")
            if len(orderings) >= MAX_ORDER_KEYS:
                raise QueryError(f"$orderby takes at most {MAX_ORDER_KEYS} keys")
            path = tuple(match["name"].split("/"))
            try:
                attr = resolve(path)
            except QueryError as error:
                raise QueryError(f"$orderby: {error.message}") from None
            if attr.type not in sql.TYPES:
                raise QueryError(f"$orderby: cannot sort by {match['name']!r}")
            if attr.node is None:
                continue
            direction = attr.node.desc if match["dir"] == "desc" else attr.node.asc
            orderings.append(direction(nulls="last"))
    return orderings


def _all(params, name):
    value = params.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _first(params, name):
    values = _all(params, name)
    return values[0] if values else None


@dataclasses.dataclass(frozen=True)
class CollectionQuery:
    """Everything a collection GET asked for, checked.

    Attributes:
        where: peewee expression for ``.where()``, or None.
        order_by: peewee orderings, possibly empty.
        page: the ``$first``/``$last`` range.
        select: names to keep in each item; contains ALL for everything.
        expand: reference names to expand; contains ALL for every one.
    """

    where: object
    order_by: list
    page: Page
    select: frozenset
    expand: frozenset

    def filtered(self, query):
        """Apply ``$filter``; count this query for the ``count`` attribute."""
        return query if self.where is None else query.where(self.where)

    def paged(self, query, *tiebreak):
        """Apply ``$orderby``, then ``tiebreak`` keys, then the page."""
        keys = [*self.order_by, *tiebreak]
        return self.page.apply(query.order_by(*keys) if keys else query)


def parse_query(params, resolve):
    """Read all CIMI query parameters of a collection request.

    Args:
        params: Mapping of parameter name to a value or a list of values
            (falcon's ``req.params``). Names without ``$`` are ignored.
        resolve: ``resolve(path) -> sql.Attr``, e.g. from
            ``sql.make_resolver``.

    Raises:
        QueryError: FilterError for ``$filter``, QueryError for the rest.
    """
    return CollectionQuery(
        where=sql.compile_filters(_all(params, "$filter"), resolve),
        order_by=parse_orderby(_all(params, "$orderby"), resolve),
        page=parse_page(_first(params, "$first"), _first(params, "$last")),
        select=parse_select(_all(params, "$select")),
        expand=parse_expand(_all(params, "$expand")),
    )
