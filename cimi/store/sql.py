"""Translate a parsed ``$filter`` into a peewee expression.

The translator never writes user text into SQL: attribute names only
select columns or become bound JSON paths, and literals are bound
parameters. Which SQL an attribute becomes is the resolver's business
(``resolve(path) -> Attr``), so the HTTP layer can map CIMI attributes onto
any model; :func:`make_resolver` covers the standard resource table (named
columns plus a JSON ``data`` column and a JSON ``properties`` map) on
SQLite and PostgreSQL.

Semantics: a comparison on an attribute a resource lacks is false, whatever
the operator, and ``not`` is the plain complement (two-valued logic), so
``not(cpu=2)`` matches a resource without ``cpu`` while ``cpu!=2`` does not.
"""

import dataclasses
import datetime
import json
import re
from typing import Callable, Optional

from peewee import (SQL, Cast, DatabaseProxy, Expression, NodeList,
                    PostgresqlDatabase, SqliteDatabase, Value, fn)

from cimi.query import filter as grammar
from cimi.query.errors import FilterError

TYPES = (grammar.STRING, grammar.INTEGER, grammar.BOOLEAN, grammar.DATETIME)
# DSP0263 4.1.6.1: strings (and booleans, which only have two values)
# take = and !=; integers and dates take all six operators.
_OPERATORS = {
    grammar.STRING: ("=", "!="),
    grammar.BOOLEAN: ("=", "!="),
    grammar.INTEGER: grammar.OPERATORS,
    grammar.DATETIME: grammar.OPERATORS,
}
# NOTE: repeated $filter parameters are ANDed (4.1.6.1); capping them keeps
# the generated expression far below SQLite's depth limit of 1000.
MAX_FILTERS = 16
_FALSE = SQL("1 = 0")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# SQLite renders any ISO 8601 text to this one UTC form, so dates stored
# with different zones or precisions compare correctly as text.
_SQLITE_INSTANT = "%Y-%m-%dT%H:%M:%fZ"


def utc_naive(value):
    """Convert an aware datetime to the naive UTC the store's columns hold."""
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _identity(value):
    return value


@dataclasses.dataclass(frozen=True)
class Attr:
    """How one filterable attribute appears in SQL.

    Attributes:
        node: The peewee node to compare, or None for an attribute that is
            known but never stored (every comparison on it is false).
        type: One of ``TYPES``; any other type cannot be filtered on.
        literal: Turns a parsed literal value into what ``node`` compares
            with. Defaults suit a plain column: dateTime literals become
            naive UTC datetimes, other values pass unchanged.
    """

    node: object
    type: str
    literal: Optional[Callable] = None

    def bind(self, value):
        """Return ``value`` in the form ``node`` compares with."""
        if self.literal is not None:
            return self.literal(value)
        return utc_naive(value) if self.type == grammar.DATETIME else value


def _lookup(resolve, path, position):
    try:
        return resolve(path)
    except FilterError as error:
        if error.position is None:
            raise FilterError(error.message, position) from None
        raise


def _compare(attr, label, op, literal, position):
    if attr.type not in TYPES:
        raise FilterError(f"attribute {label} cannot be used in a filter", position)
    if literal.type != attr.type:
        raise FilterError(
            f"attribute {label} is {attr.type}, the value is {literal.type}",
            literal.position)
    if op not in _OPERATORS[attr.type]:
        raise FilterError(f"operator {op!r} does not apply to {attr.type} {label}", position)
    if attr.node is None:
        return _FALSE
    return Expression(attr.node, op, attr.bind(literal.value))


def compile_tree(tree, resolve):
    """Translate a syntax tree from ``cimi.query.filter.parse``.

    Raises:
        FilterError: for unknown attributes and type mismatches.
    """
    if isinstance(tree, grammar.Comparison):
        attr = _lookup(resolve, tree.path, tree.position)
        return _compare(attr, repr("/".join(tree.path)), tree.op, tree.literal, tree.position)
    if isinstance(tree, grammar.PropertyComparison):
        attr = _lookup(resolve, ("properties", tree.key), tree.position)
        return _compare(attr, f"property[{tree.key!r}]", tree.op, tree.literal, tree.position)
    if isinstance(tree, grammar.Not):
        # SQL NOT of an unknown (NULL) is still unknown; COALESCE makes an
        # absent attribute's comparison false before negating it.
        return ~fn.COALESCE(compile_tree(tree.operand, resolve), False)
    glue = " AND " if isinstance(tree, grammar.And) else " OR "
    return NodeList([compile_tree(operand, resolve) for operand in tree.operands],
                    glue=glue, parens=True)


def compile_filter(text, resolve):
    """Parse and translate one ``$filter`` value.

    Raises:
        FilterError: on any syntax or type error.
    """
    return compile_tree(grammar.parse(text), resolve)


def compile_filters(texts, resolve):
    """Translate every ``$filter`` value of a request, ANDed together.

    Args:
        texts: The decoded values, in any order.
        resolve: ``resolve(path) -> Attr``; raises FilterError (position
            may be None) for an unknown attribute.

    Returns:
        A peewee expression for ``.where()``, or None when ``texts`` is
        empty.

    Raises:
        FilterError: for the first bad filter, or too many of them.
    """
    texts = list(texts)
    if len(texts) > MAX_FILTERS:
        raise FilterError(f"more than {MAX_FILTERS} $filter parameters")
    if not texts:
        return None
    clauses = [compile_filter(text, resolve) for text in texts]
    return clauses[0] if len(clauses) == 1 else NodeList(clauses, glue=" AND ", parens=True)


class _SQLite:
    """JSON access with the json1 functions (TEXT column, JSON inside)."""

    @staticmethod
    def json(column, path, type_):
        # NOTE: the path is written into the SQL, not bound: SQLite uses an index on
        # an expression only when the query spells it the same way. It is safe:
        # the resolver admits only attribute names from the schemas (identifiers).
        if not all(_KEY.fullmatch(key) for key in path):
            raise FilterError(f"unknown attribute {'/'.join(path)!r}")
        node = fn.json_extract(column, SQL("'$" + "".join(f'.{key}' for key in path) + "'"))
        if type_ != grammar.DATETIME:
            return Attr(node, type_, _identity)
        # Both sides go through strftime, so SQLite rounds them alike.
        return Attr(fn.strftime(_SQLITE_INSTANT, node), type_,
                    lambda value: fn.strftime(_SQLITE_INSTANT, value.isoformat()))

    @staticmethod
    def property(column, key):
        # NOTE: json_each, not a JSON path: a path cannot spell every key
        # (a double quote in a key has no escape in SQLite's path syntax).
        return NodeList([SQL("(SELECT value FROM json_each("), column,
                         SQL(") WHERE key ="), Value(key), SQL(")")])

    @staticmethod
    def column(field, type_):
        return Attr(field, type_)


class _PostgreSQL:
    """JSON access on a jsonb column (or a TEXT one, cast: the cast is free on jsonb).

    Integers and booleans compare as jsonb values, which never fails on a
    badly typed stored value (a CAST to integer would abort the query).
    Strings compare under the "C" collation: DSP0263 4.1.6.6 orders strings
    by code point, not by the database locale.
    """

    @staticmethod
    def _path(column, op, path):
        return Expression(Cast(column, "jsonb"), op, Value(list(path), unpack=False))

    @classmethod
    def json(cls, column, path, type_):
        if type_ in (grammar.INTEGER, grammar.BOOLEAN):
            node = cls._path(column, "#>", path)
            return Attr(node, type_, lambda value: Cast(Value(json.dumps(value)), "jsonb"))
        text = cls._path(column, "#>>", path)
        if type_ == grammar.DATETIME:
            return Attr(Cast(text, "timestamptz"), type_, _identity)
        return Attr(_binary(text), type_)

    @staticmethod
    def property(column, key):
        return _binary(Expression(Cast(column, "jsonb"), "->>", Value(key)))

    @staticmethod
    def column(field, type_):
        return Attr(_binary(field) if type_ == grammar.STRING else field, type_)


def _binary(node):
    return NodeList([node, SQL('COLLATE "C"')])


def _dialect(model):
    database = model._meta.database
    if isinstance(database, DatabaseProxy):
        database = database.obj
    if isinstance(database, PostgresqlDatabase):
        return _PostgreSQL
    if isinstance(database, SqliteDatabase):
        return _SQLite
    raise TypeError(f"no $filter support for {type(database).__name__}")


def make_resolver(model, schema_types, columns):
    """Build the resolver for a standard resource table.

    Args:
        model: The peewee model; its database (or the database a proxy
            points at when a filter is compiled) picks the SQL dialect.
        schema_types: Type of each filterable attribute, keyed by its
            '/'-joined path (``"cpu"``, ``"machineConfig/href"``).
        columns: Top-level attribute names stored in their own column;
            every other attribute is looked up in the JSON ``data`` column.
            When it holds ``"properties"``, ``property['k']`` looks in the
            ``properties`` column. dateTime values in ``data`` must be
            ISO 8601 text; give them a zone (PostgreSQL reads zoneless
            text in the session time zone, SQLite as UTC).

    Attributes in the model's ``typed_columns`` ({'/'-joined path: field
    name}, cimi/store/columns.py) are read from that typed column, which
    holds the value of ``data`` when it has the attribute's type and NULL
    otherwise; the others from the JSON.

    Returns:
        ``resolve(path) -> Attr``, raising FilterError for unknown paths.
    """

    typed = getattr(model, "typed_columns", {})

    def resolve(path):
        dialect = _dialect(model)
        if len(path) == 2 and path[0] == "properties" and "properties" in columns:
            return Attr(dialect.property(model.properties, path[1]), grammar.STRING)
        name = "/".join(path)
        if name not in schema_types:
            raise FilterError(f"unknown attribute {name!r}")
        if name in columns:
            return dialect.column(getattr(model, name), schema_types[name])
        if name in typed:
            return dialect.column(getattr(model, typed[name]), schema_types[name])
        return dialect.json(model.data, path, schema_types[name])

    return resolve
