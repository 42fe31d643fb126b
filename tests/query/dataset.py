"""A small fixed collection of Machines, and a Python reference evaluator.

The evaluator gives the meaning of a filter tree independently of SQL:
a comparison on an absent attribute is false, ``not`` is the complement,
dateTime values compare as instants whatever their zone.
"""

import datetime
import operator

from cimi.query import filter as grammar
from cimi.query.filter import parse_datetime

UTC = datetime.timezone.utc

SCHEMA_TYPES = {
    "id": "string", "name": "string", "description": "string", "state": "string",
    "created": "dateTime", "updated": "dateTime",
    "cpu": "integer", "memory": "integer", "bootable": "boolean", "lastBoot": "dateTime",
    "machineConfig/href": "string", "machineConfig/cpu": "integer",
    "disks": "collection",
}
COLUMNS = {"id", "owner", "name", "description", "created", "updated", "state", "properties"}


def _dt(*args):
    return datetime.datetime(*args)


ITEMS = [
    dict(id="m1", name="alpha", state="STARTED", created=_dt(2012, 1, 1), cpu=1,
         memory=1048576, bootable=True, lastBoot="2012-01-02T13:14:25Z",
         machineConfig={"href": "cfg/small", "cpu": 1},
         properties={"owner": "alice", "tier": "gold"}),
    # lastBoot is the same instant as m1's, written in another zone.
    dict(id="m2", name="beta", description="second", state="STOPPED",
         created=_dt(2012, 1, 2, 13, 14, 25), cpu=2, memory=2097152, bootable=False,
         lastBoot="2012-01-02T14:14:25+01:00",
         machineConfig={"href": "cfg/medium", "cpu": 2}, properties={"owner": "bob"}),
    dict(id="m3", name="it's \"q\"", state="STARTED",
         created=_dt(2012, 1, 2, 13, 14, 25, 600000), cpu=4, memory=4194304,
         bootable=True, lastBoot="2012-01-02T13:14:25.6Z",
         machineConfig={"href": "cfg/large", "cpu": 4},
         properties={"a.b": "x", 'q"k': "y", "owner": "carol"}),
    # Most optional attributes absent.
    dict(id="m4", name="Beta", state="STOPPED", created=_dt(2013, 6, 1, 12)),
    dict(id="m5", state="ERROR", created=_dt(2011, 12, 31, 23, 59, 59), cpu=8, memory=0,
         bootable=False, lastBoot="2011-12-31T23:00:00-02:00",
         machineConfig={"href": "cfg/small"}, properties={"owner": "alice"}),
    dict(id="m6", name="ünïcode", description="", created=_dt(2012, 1, 2), cpu=0,
         memory=524288, bootable=True, lastBoot="2012-01-02",
         properties={"owner": "", "tier": "silver"}),
]
for _item in ITEMS:
    _item["updated"] = _item["created"]
IDS = {item["id"] for item in ITEMS}

_OPS = {"<": operator.lt, "<=": operator.le, "=": operator.eq,
        ">=": operator.ge, ">": operator.gt, "!=": operator.ne}


def _lookup(item, path):
    value = item
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _instant(value):
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=UTC)
    return parse_datetime(value)


def _holds(value, op, literal):
    if value is None:
        return False
    if literal.type == "dateTime":
        value = _instant(value)
    return _OPS[op](value, literal.value)


def evaluate(tree, item):
    """Say whether ``item`` matches a filter tree."""
    if isinstance(tree, grammar.Comparison):
        return _holds(_lookup(item, tree.path), tree.op, tree.literal)
    if isinstance(tree, grammar.PropertyComparison):
        return _holds(item.get("properties", {}).get(tree.key), tree.op, tree.literal)
    if isinstance(tree, grammar.Not):
        return not evaluate(tree.operand, item)
    if isinstance(tree, grammar.And):
        return all(evaluate(operand, item) for operand in tree.operands)
    return any(evaluate(operand, item) for operand in tree.operands)


def expected_ids(text):
    """Ids of the items matching the filter text, by the reference."""
    tree = grammar.parse(text)
    return {item["id"] for item in ITEMS if evaluate(tree, item)}
