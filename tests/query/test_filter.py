"""The $filter grammar (DSP0263 4.1.6.1): trees, literals, refusals."""

import datetime
import time

import pytest

from cimi.query.errors import FilterError, QueryError
from cimi.query.filter import (MAX_DEPTH, MAX_LENGTH, And, Comparison, Literal, Not, Or,
                               PropertyComparison, parse, parse_datetime)

UTC = datetime.timezone.utc


def lit(type_, value, position):
    return Literal(type_, value, position)


TREES = [
    ("name='t1'", Comparison(("name",), "=", lit("string", "t1", 5), 0)),
    ('name = "t1"', Comparison(("name",), "=", lit("string", "t1", 7), 0)),
    ("  cpu  >=  2  ", Comparison(("cpu",), ">=", lit("integer", 2, 11), 2)),
    # Reversed operands are normalised, mirroring the operator.
    ("2=cpu", Comparison(("cpu",), "=", lit("integer", 2, 0), 2)),
    ("2<cpu", Comparison(("cpu",), ">", lit("integer", 2, 0), 2)),
    ("4>=cpu", Comparison(("cpu",), "<=", lit("integer", 4, 0), 3)),
    ("true!=bootable", Comparison(("bootable",), "!=", lit("boolean", True, 0), 6)),
    ("bootable=false", Comparison(("bootable",), "=", lit("boolean", False, 9), 0)),
    ("machineConfig/cpu<3", Comparison(("machineConfig", "cpu"), "<", lit("integer", 3, 18), 0)),
    (r"name='a\'b'", Comparison(("name",), "=", lit("string", "a'b", 5), 0)),
    (r'name="a\"b\\"', Comparison(("name",), "=", lit("string", 'a"b\\', 5), 0)),
    ("name=''", Comparison(("name",), "=", lit("string", "", 5), 0)),
    ("property['owner']='alice'",
     PropertyComparison("owner", "=", lit("string", "alice", 18), 0)),
    ('property [ "o w" ] != "x"', PropertyComparison("o w", "!=", lit("string", "x", 22), 0)),
    ("property=1", Comparison(("property",), "=", lit("integer", 1, 9), 0)),
    ("not(a=1)", Not(Comparison(("a",), "=", lit("integer", 1, 6), 4), 0)),
    ("not a=1", Not(Comparison(("a",), "=", lit("integer", 1, 6), 4), 0)),
    # 'and' binds tighter than 'or'; chains stay flat.
    ("a=1 or b=2 and c=3 or d=4", Or((
        Comparison(("a",), "=", lit("integer", 1, 2), 0),
        And((Comparison(("b",), "=", lit("integer", 2, 9), 7),
             Comparison(("c",), "=", lit("integer", 3, 17), 15))),
        Comparison(("d",), "=", lit("integer", 4, 24), 22)))),
    ("(a=1 or b=2) and not (c=3)", And((
        Or((Comparison(("a",), "=", lit("integer", 1, 3), 1),
            Comparison(("b",), "=", lit("integer", 2, 10), 8))),
        Not(Comparison(("c",), "=", lit("integer", 3, 24), 22), 17)))),
    ("((a=1))", Comparison(("a",), "=", lit("integer", 1, 4), 2)),
]


@pytest.mark.parametrize("text, tree", TREES)
def test_parses_to_tree(text, tree):
    assert parse(text) == tree


VALID_DATES = [  # StratusLab's parser test, plus zone and date forms.
    ("2012-01-02", datetime.datetime(2012, 1, 2, tzinfo=UTC)),
    ("2012-01-02T13:14:25Z", datetime.datetime(2012, 1, 2, 13, 14, 25, tzinfo=UTC)),
    ("2012-01-02T13:14:25.6Z", datetime.datetime(2012, 1, 2, 13, 14, 25, 600000, tzinfo=UTC)),
    ("2012-01-02T13:14:25-01:15",
     datetime.datetime(2012, 1, 2, 14, 29, 25, tzinfo=UTC)),
    ("2012-01-02T13:14:25.6+02:30",
     datetime.datetime(2012, 1, 2, 10, 44, 25, 600000, tzinfo=UTC)),
    ("2012-01-02T13:14:25", datetime.datetime(2012, 1, 2, 13, 14, 25, tzinfo=UTC)),
    ("2012-01-02T13:14:25.1234567Z",
     datetime.datetime(2012, 1, 2, 13, 14, 25, 123456, tzinfo=UTC)),
    ("2012-01-02+01:00", datetime.datetime(2012, 1, 1, 23, tzinfo=UTC)),
]


@pytest.mark.parametrize("text, instant", VALID_DATES)
def test_valid_date_literal(text, instant):
    tree = parse(f"created>{text}")
    assert tree.literal.type == "dateTime"
    assert tree.literal.value == instant
    assert parse_datetime(text) == instant


@pytest.mark.parametrize("text", [
    "2012", "2012-01-99T13:14:25.6ZZ", "2012-01-02T13:14:25.6+02-30", "2012-13-01",
    "2012-02-30", "2012-01-02T25:00:00Z", "2012-01-02T13:14Z", "2012-01-02T13:14:25+02:60",
    "2012-1-2", "2012-01-02T13:14:25.Z",
])
def test_invalid_date_literal(text):
    with pytest.raises(ValueError):
        parse_datetime(text)
    if text != "2012":  # "2012" alone is a valid integer in a filter.
        with pytest.raises(FilterError, match="invalid date") as caught:
            parse(f"created>{text}")
        assert caught.value.position == 8


INVALID = [  # (filter, message, position); StratusLab's list first.
    ("", "empty filter", 0),
    ("   ", "empty filter", 0),
    ("()", "unexpected ')'; expected an attribute, a value, 'not' or '('", 1),
    ("alpha=beta", "expected a value, got 'beta'", 6),
    ("alpha=3.2", "only whole numbers are allowed, not '3.2'", 6),
    ("alpha&&4", "unexpected character '&'", 5),
    ("property[beta]='4'", "expected a quoted property key, got 'beta'", 9),
    ("property['beta']=4", "expected a quoted string, got '4'", 17),
    ("4=property['beta']", "property[...] must be on the left", 2),
    ("name='a')", "unexpected ')'", 8),
    ("(name='a'", "expected ')', got end of filter", 9),
    ("name='a", "unterminated string", 5),
    ("name", "expected an operator, got end of filter", 4),
    ("name=", "expected a value, got end of filter", 5),
    ("name=='a'", "expected a value, got '='", 5),
    ("name<>'a'", "expected a value, got '>'", 5),
    ("1=2", "expected an attribute, got '2'", 2),
    ("'a'='b'", "expected an attribute, got \"'b'\"", 4),
    ("a=1 or", "unexpected end of filter; expected an attribute", 6),
    ("a=1 and and b=2", "unexpected 'and'", 8),
    ("a=1 AND b=2", "unexpected 'AND'", 4),
    ("a=1 b=2", "unexpected 'b'", 4),
    ("a=-1", "unexpected character '-'", 2),
    ("a=1x", "invalid number '1x'", 2),
    ("a=1and b=2", "invalid number '1and'", 2),
    ("a/=1", "unexpected character '/'", 1),
    ("a=TRUE", "expected a value, got 'TRUE'", 2),
    ("state=STARTED", "expected a value, got 'STARTED'", 6),
    ("a=null", "expected a value, got 'null'", 2),
    ("not", "unexpected end of filter", 3),
    ("not()", "unexpected ')'", 4),
    ("property['a']", "expected an operator", 13),
    ("property['a'", "expected ']'", 12),
    ("a^='x'", "unexpected character '^'", 1),
    ("a=[1 2]", "expected a value, got '['", 2),
    ("name='a\0'", "NUL character in filter", 7),
]


@pytest.mark.parametrize("text, message, position", INVALID)
def test_invalid_filter(text, message, position):
    with pytest.raises(FilterError) as caught:
        parse(text)
    assert caught.value.message.startswith(message)
    assert caught.value.position == position
    assert str(caught.value) == f"{caught.value.message} at {position}"
    assert isinstance(caught.value, QueryError)


def test_huge_filter_fails_fast_before_lexing():
    text = "name='" + "x" * 100_000 + "'"
    start = time.perf_counter()
    with pytest.raises(FilterError, match="longer than 4096") as caught:
        parse(text)
    assert time.perf_counter() - start < 0.01
    assert caught.value.position == MAX_LENGTH


def test_longest_allowed_filter_parses():
    text = "name='" + "x" * (MAX_LENGTH - 7) + "'"
    assert len(text) == MAX_LENGTH
    assert parse(text).literal.value == "x" * (MAX_LENGTH - 7)


def test_nesting_depth_is_capped():
    ok = "(" * (MAX_DEPTH - 1) + "a=1" + ")" * (MAX_DEPTH - 1)
    assert parse(ok) == Comparison(("a",), "=", lit("integer", 1, MAX_DEPTH + 1), MAX_DEPTH - 1)
    with pytest.raises(FilterError, match="nested deeper than 32") as caught:
        parse("(" * MAX_DEPTH + "a=1" + ")" * MAX_DEPTH)
    assert caught.value.position == MAX_DEPTH
    with pytest.raises(FilterError, match="nested deeper"):
        parse("not " * MAX_DEPTH + "a=1")


def test_comparison_count_is_capped():
    assert len(parse(" or ".join(["a=1"] * 256)).operands) == 256
    with pytest.raises(FilterError, match="more than 256 comparisons") as caught:
        parse(" or ".join(["a=1"] * 257))
    assert caught.value.position == 256 * 7
