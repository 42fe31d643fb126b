"""$first/$last, $orderby, $select, $expand and the whole query (4.1.6)."""

import pytest

from cimi.query.errors import FilterError, QueryError
from cimi.query.params import (ALL, MAX_POSITION, Page, parse_expand, parse_orderby,
                               parse_page, parse_query, parse_select)


@pytest.mark.parametrize("first, last, offset, limit", [
    (None, None, 0, None),
    ("2", "3", 1, 2),
    ("4", None, 3, None),
    (None, "2", 0, 2),
    ("4", "2", 3, 0),       # first > last: an empty range, not an error
    ("3", "3", 2, 1),
    (" 7 ", None, 6, None),
    ("1" * 40, None, MAX_POSITION - 1, None),  # beyond any bound: clipped
])
def test_page(first, last, offset, limit):
    page = parse_page(first, last)
    assert (page.offset, page.limit) == (offset, limit)


@pytest.mark.parametrize("first, last, bad", [
    ("-1", None, "$first"), ("abc", None, "$first"),
    ("1.5", None, "$first"), ("", None, "$first"), ("+3", None, "$first"),
    (None, "x", "$last"), (None, "-2", "$last"),
])
def test_page_refused(first, last, bad):
    with pytest.raises(QueryError, match=f"\\{bad} must be a non-negative integer"):
        parse_page(first, last)


@pytest.mark.parametrize("first, last, offset, limit", [("0", None, 0, None), ("0", "1", 0, 1), (None, "0", 0, 0)])
def test_page_zero_is_clipped(first, last, offset, limit):
    page = parse_page(first, last)
    assert (page.offset, page.limit) == (offset, limit)


def _ids(machines, params):
    model = machines.model
    query = parse_query(params, machines.resolve)
    rows = query.paged(query.filtered(model.select(model.id)), model.id)
    return [row.id for row in rows], query.filtered(model.select()).count()


# vector 40: five machines (m6 has no state), ordered by id.
FIVE = {"$filter": "state!='none'"}


@pytest.mark.parametrize("paging, ids", [
    ({"$first": "2", "$last": "3"}, ["m2", "m3"]),
    ({"$first": "4"}, ["m4", "m5"]),
    ({"$last": "2"}, ["m1", "m2"]),
    ({"$first": "4", "$last": "2"}, []),
    ({"$first": "10"}, []),
    ({"$first": "1", "$last": "99"}, ["m1", "m2", "m3", "m4", "m5"]),
])
def test_paging_after_filter_keeps_count(machines, paging, ids):
    assert _ids(machines, {**FIVE, **paging}) == (ids, 5)


@pytest.mark.parametrize("orderby, ids", [
    (["cpu:desc,name"], ["m5", "m3", "m2", "m1", "m6", "m4"]),   # vector 41
    (["cpu:desc", "name"], ["m5", "m3", "m2", "m1", "m6", "m4"]),
    (["name"], ["m4", "m1", "m2", "m3", "m6", "m5"]),            # binary order
    (["name:asc"], ["m4", "m1", "m2", "m3", "m6", "m5"]),
    (["name:desc"], ["m6", "m3", "m2", "m1", "m4", "m5"]),       # absent last
    (["created"], ["m5", "m1", "m6", "m2", "m3", "m4"]),
    (["created:desc"], ["m4", "m3", "m2", "m6", "m1", "m5"]),
    (["lastBoot"], ["m5", "m6", "m1", "m2", "m3", "m4"]),        # instants
    (["bootable,cpu:desc"], ["m5", "m2", "m3", "m1", "m6", "m4"]),
    (["machineConfig/cpu:desc"], ["m3", "m2", "m1", "m4", "m5", "m6"]),
    (["properties/owner"], ["m6", "m1", "m5", "m2", "m3", "m4"]),
    ([" state , name "], ["m5", "m1", "m3", "m4", "m2", "m6"]),
    ([""], ["m1", "m2", "m3", "m4", "m5", "m6"]),
])
def test_orderby(machines, orderby, ids):
    assert _ids(machines, {"$orderby": orderby}) == (ids, 6)


def test_orderby_then_page_gives_highest_cpu(machines):  # vector 41
    params = {"$orderby": "cpu:desc,name", "$first": "1", "$last": "1"}
    assert _ids(machines, params) == (["m5"], 6)


@pytest.mark.parametrize("orderby, message", [
    ("bogus", "$orderby: unknown attribute 'bogus'"),
    ("cpu:up", "invalid $orderby key 'cpu:up'"),
    ("cpu:DESC", "invalid $orderby key 'cpu:DESC'"),
    ("cpu desc", "invalid $orderby key 'cpu desc'"),
    ("name;drop", "invalid $orderby key 'name;drop'"),
    ("disks", "$orderby: cannot sort by 'disks'"),
])
def test_orderby_refused(machines, orderby, message):
    with pytest.raises(QueryError) as caught:
        parse_orderby([orderby], machines.resolve)
    assert caught.value.message == message


@pytest.mark.parametrize("values, names", [
    ([], {ALL}),
    (["name"], {"name"}),
    (["name,state", "state", "description"], {"name", "state", "description"}),
    ([" name , ,disks/name "], {"name", "disks/name"}),
    (["name", "*"], {ALL}),
    ([""], set()),
])
def test_select(values, names):
    assert parse_select(values) == names


@pytest.mark.parametrize("values, names", [
    ([], set()),
    (["disks"], {"disks"}),
    (["disks,volumes", "disks"], {"disks", "volumes"}),
    (["*"], {ALL}),
    ([""], {ALL}),
    (["disks", ""], {ALL}),
])
def test_expand(values, names):
    assert parse_expand(values) == names


def test_whole_query_ignores_unknown_parameters(machines):  # vector 42
    query = parse_query({"$unknown": "1", "foo": "bar", "$format": "json"}, machines.resolve)
    assert (query.where, query.order_by, query.page) == (None, [], Page())
    assert (query.select, query.expand) == ({ALL}, set())


def test_whole_query(machines):
    params = {"$filter": ["cpu>=1", "bootable=true"], "$orderby": "cpu:desc",
              "$first": ["2", "1"], "$select": "name,cpu", "$expand": "disks"}
    query = parse_query(params, machines.resolve)
    assert _ids(machines, params) == (["m1"], 2)
    assert (query.select, query.expand) == ({"name", "cpu"}, {"disks"})


def test_whole_query_reports_filter_errors(machines):
    with pytest.raises(FilterError, match="unexpected '\\)' at 6"):
        parse_query({"$filter": "cpu=1 )"}, machines.resolve)
