"""Random filters: SQL on both databases agrees with the Python reference."""

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cimi.query.errors import FilterError
from cimi.query.filter import OPERATORS, parse

from .dataset import ITEMS, SCHEMA_TYPES, expected_ids

_MIRRORED = {"<": ">", "<=": ">=", "=": "=", "!=": "!=", ">": "<", ">=": "<="}
_EQUALITY = ("=", "!=")


def _quoted(text, quote):
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


_STRINGS = sorted({v for item in ITEMS for v in (item.get("name"), item.get("state"))
                   if v is not None} | {"", "cfg/small", "cfg/large", "alice", "gold", "x"})
LITERALS = {  # values near and between the dataset's own
    "string": st.builds(_quoted, st.sampled_from(_STRINGS) | st.text(max_size=4),
                        st.sampled_from("'\"")),
    "integer": st.sampled_from([0, 1, 2, 3, 4, 8, 524288, 1048576, 4194304, 99]).map(str),
    "boolean": st.sampled_from(["true", "false"]),
    "dateTime": st.sampled_from([
        "2012-01-02T13:14:25Z", "2012-01-02", "2012-01-02T14:14:25+01:00",
        "2011-12-31T23:00:00-02:00", "2012-01-02T13:14:25.6Z", "2013-01-01",
        "2012-01-01T00:00:00Z", "2011-12-31T23:59:59Z", "2012-01-02T00:00:00+00:30",
    ]),
}
ATTRIBUTES = [(name, type_) for name, type_ in SCHEMA_TYPES.items() if type_ in LITERALS]


@st.composite
def comparisons(draw):
    if draw(st.integers(0, 5)) == 0:
        key = draw(st.sampled_from(["owner", "tier", "a.b", 'q"k', "none"]))
        return (f"property[{_quoted(key, draw(st.sampled_from(chr(39) + chr(34))))}]"
                f"{draw(st.sampled_from(_EQUALITY))}{draw(LITERALS['string'])}")
    name, type_ = draw(st.sampled_from(ATTRIBUTES))
    ops = _EQUALITY if type_ in ("string", "boolean") else OPERATORS
    op, value = draw(st.sampled_from(ops)), draw(LITERALS[type_])
    if draw(st.booleans()):
        return f"{value} {_MIRRORED[op]} {name}"
    return f"{name}{op}{value}"


filters = st.recursive(comparisons(), lambda inner: st.one_of(
    st.builds("{} and {}".format, inner, inner),
    st.builds("{} or {}".format, inner, inner),
    st.builds("({})".format, inner),
    st.builds("not ({})".format, inner),
    st.builds("not {}".format, inner),
), max_leaves=10)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(filters, min_size=1, max_size=3))
def test_sql_matches_reference(machines, texts):
    try:
        for text in texts:
            parse(text)
    except FilterError:
        assume(False)  # only the depth cap can refuse a generated filter
    expected = set.intersection(*(expected_ids(text) for text in texts))
    assert machines.ids(*texts) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_parser_never_crashes(text):
    try:
        parse(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)
