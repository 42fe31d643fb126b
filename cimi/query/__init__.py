"""The CIMI collection query language (DSP0263 clause 4.1.6).

``filter`` parses ``$filter`` into a syntax tree, ``sql`` turns the tree
into a peewee expression, and ``params`` reads the other query parameters.
The HTTP layer needs only the names re-exported here.
"""

from cimi.query.errors import FilterError, QueryError
from cimi.query.params import ALL, CollectionQuery, Page, parse_query
from cimi.store.sql import Attr, compile_filters, make_resolver

__all__ = [
    "ALL", "Attr", "CollectionQuery", "FilterError", "Page", "QueryError",
    "compile_filters", "make_resolver", "parse_query",
]
