"""$filter to SQL, on SQLite and PostgreSQL: operators x types, typing."""

import pytest

from cimi.query.errors import FilterError
from cimi.store.sql import Attr, MAX_FILTERS, compile_filters

from .dataset import IDS, expected_ids

ALL_BUT = lambda *ids: IDS - set(ids)  # noqa: E731

# (filter, ids it selects) for every operator of every type (4.1.6.1),
# on columns and on JSON attributes alike. Absent attributes never match.
OPERATORS_BY_TYPE = [
    # string column: = and != only; case-sensitive; absent name (m5) never.
    ("name='beta'", {"m2"}),
    ("name!='beta'", {"m1", "m3", "m4", "m6"}),
    ("""name='it\\'s "q"'""", {"m3"}),
    ("name='ünïcode'", {"m6"}),
    ("description=''", {"m6"}),
    ("description!=''", {"m2"}),
    ("state!='STARTED'", {"m2", "m4", "m5"}),
    ("'STOPPED'=state", {"m2", "m4"}),
    # string in data, nested path
    ("machineConfig/href='cfg/small'", {"m1", "m5"}),
    ("machineConfig/href!='cfg/small'", {"m2", "m3"}),
    # integer in data: all six operators, both operand orders
    ("cpu<2", {"m1", "m6"}),
    ("cpu<=2", {"m1", "m2", "m6"}),
    ("cpu=2", {"m2"}),
    ("cpu>=2", {"m2", "m3", "m5"}),
    ("cpu>2", {"m3", "m5"}),
    ("cpu!=2", {"m1", "m3", "m5", "m6"}),
    ("2=cpu", {"m2"}),
    ("2<cpu", {"m3", "m5"}),
    ("2>=cpu", {"m1", "m2", "m6"}),
    ("cpu=0", {"m6"}),
    ("memory>=1048576", {"m1", "m2", "m3"}),
    ("memory<1", {"m5"}),
    ("machineConfig/cpu>1", {"m2", "m3"}),
    ("machineConfig/cpu!=1", {"m2", "m3"}),
    # boolean in data
    ("bootable=true", {"m1", "m3", "m6"}),
    ("bootable=false", {"m2", "m5"}),
    ("bootable!=true", {"m2", "m5"}),
    ("bootable!=false", {"m1", "m3", "m6"}),
    ("true=bootable", {"m1", "m3", "m6"}),
    # dateTime column (naive UTC): all six operators, zones, fractions
    ("created<2012-01-02T13:14:25Z", {"m1", "m5", "m6"}),
    ("created<=2012-01-02T13:14:25Z", {"m1", "m2", "m5", "m6"}),
    ("created=2012-01-02T13:14:25Z", {"m2"}),
    ("created>=2012-01-02T13:14:25Z", {"m2", "m3", "m4"}),
    ("created>2012-01-02T13:14:25Z", {"m3", "m4"}),
    ("created!=2012-01-02T13:14:25Z", ALL_BUT("m2")),
    ("created=2012-01-02T14:14:25+01:00", {"m2"}),
    ("created=2012-01-02T13:14:25.6Z", {"m3"}),
    ("created>2012-01-02T13:14:25.5Z", {"m3", "m4"}),
    ("created=2012-01-02", {"m6"}),
    ("created<2012-01-02T00:00:00+00:01", {"m1", "m5"}),
    ("2012-01-01T00:00:00Z>=created", {"m1", "m5"}),
    # dateTime in data, stored as ISO text in assorted zones
    ("lastBoot<2012-01-02T13:14:25Z", {"m5", "m6"}),
    ("lastBoot<=2012-01-02T13:14:25Z", {"m1", "m2", "m5", "m6"}),
    ("lastBoot=2012-01-02T13:14:25Z", {"m1", "m2"}),
    ("lastBoot>=2012-01-02T13:14:25Z", {"m1", "m2", "m3"}),
    ("lastBoot>2012-01-02T13:14:25Z", {"m3"}),
    ("lastBoot!=2012-01-02T13:14:25Z", {"m3", "m5", "m6"}),
    ("lastBoot=2012-01-02T15:14:25+02:00", {"m1", "m2"}),
    ("lastBoot=2012-01-02", {"m6"}),
    ("lastBoot<2012-01-01T02:00:00+01:00", set()),
    ("lastBoot<=2012-01-01T02:00:00+01:00", {"m5"}),
    # property map: = and !=; any key, even with dots and quotes
    ("property['owner']='alice'", {"m1", "m5"}),
    ("property['owner']!='alice'", {"m2", "m3", "m6"}),
    ("property['owner']=''", {"m6"}),
    ("property['a.b']='x'", {"m3"}),
    ("""property['q"k']='y'""", {"m3"}),
    ("property['tier']!='gold'", {"m6"}),
    ("property['missing']='x'", set()),
]

LOGIC = [
    # not is the plain complement: absent attributes make it true.
    ("not(cpu=2)", ALL_BUT("m2")),
    ("not cpu!=2", {"m2", "m4"}),
    ("not not cpu=2", {"m2"}),
    ("not(name='beta' or state='STOPPED')", {"m1", "m3", "m5", "m6"}),
    ("not property['owner']='alice'", ALL_BUT("m1", "m5")),
    # and binds tighter than or (vector 36)
    ("state='STOPPED' or cpu>=2 and memory<1048576", {"m2", "m4", "m5"}),
    ("(state='STOPPED' or cpu>=2) and memory<1048576", {"m5"}),
    ("cpu>=2 and memory<4194304 or state='STOPPED'", {"m2", "m4", "m5"}),
    ("cpu=1 or cpu=2 or cpu=4 or cpu=8", {"m1", "m2", "m3", "m5"}),
    # literals are parameters, never SQL
    ("name='x\\' OR 1=1 --'", set()),
    ("name='\\'; DROP TABLE machine; --'", set()),
]


@pytest.mark.parametrize("text, ids", OPERATORS_BY_TYPE + LOGIC)
def test_filter_selects(machines, text, ids):
    assert expected_ids(text) == ids  # the table agrees with the reference
    assert machines.ids(text) == ids


def test_repeated_filters_are_anded(machines):  # vector 39
    assert machines.ids("name='alpha'", "cpu=1") == {"m1"}
    assert machines.ids("name='alpha'", "cpu=2") == set()
    assert machines.ids("cpu=1 or cpu=2", "state='STOPPED'") == {"m2"}
    assert machines.ids() == IDS


def test_vector_35_name_and_not_name(machines):
    assert len(machines.ids("name='alpha'")) == 1
    # The unnamed machine has no name to differ from 'alpha'.
    assert machines.ids("name!='alpha'") == IDS - {"m1", "m5"}


def test_known_but_unstored_attribute_never_matches(machines):
    def resolve(path):
        if path == ("uptime",):
            return Attr(None, "integer")
        return machines.resolve(path)

    query = machines.model.select(machines.model.id)
    assert not query.where(compile_filters(["uptime>0"], resolve)).count()
    assert not query.where(compile_filters(["uptime!=0"], resolve)).count()
    assert query.where(compile_filters(["not uptime=0"], resolve)).count() == len(IDS)


REFUSED = [  # (filter, message, position)
    ("name<'a'", "operator '<' does not apply to string 'name'", 0),
    ("'a'>=name", "operator '<=' does not apply to string 'name'", 5),
    ("bootable>true", "operator '>' does not apply to boolean 'bootable'", 0),
    ("property['owner']<'b'", "operator '<' does not apply to string property['owner']", 0),
    ("cpu='2'", "attribute 'cpu' is integer, the value is string", 4),
    ("created=5", "attribute 'created' is dateTime, the value is integer", 8),
    ("created='2012-01-02'", "attribute 'created' is dateTime, the value is string", 8),
    ("name=true", "attribute 'name' is string, the value is boolean", 5),
    ("bootable=1", "attribute 'bootable' is boolean, the value is integer", 9),
    ("lastBoot=2012", "attribute 'lastBoot' is dateTime, the value is integer", 9),
    ("disks='x'", "attribute 'disks' cannot be used in a filter", 0),
    ("bogus=1", "unknown attribute 'bogus'", 0),
    ("machineConfig/bogus=1", "unknown attribute 'machineConfig/bogus'", 0),
    ("name/first='x'", "unknown attribute 'name/first'", 0),
    ("cpu=1 or (state='X' and bogus=2)", "unknown attribute 'bogus'", 24),
]


@pytest.mark.parametrize("text, message, position", REFUSED)
def test_refused_filter(machines, text, message, position):
    with pytest.raises(FilterError) as caught:
        compile_filters([text], machines.resolve)
    assert (caught.value.message, caught.value.position) == (message, position)


def test_too_many_filters(machines):
    compile_filters(["cpu=1"] * MAX_FILTERS, machines.resolve)
    with pytest.raises(FilterError, match="more than 16 \\$filter"):
        compile_filters(["cpu=1"] * (MAX_FILTERS + 1), machines.resolve)


def test_largest_filters_run(machines):
    """The biggest accepted input stays within the databases' limits."""
    text = " or ".join(["not (cpu=1 and (name='x' or property['o']='y'))"] * 80)
    assert len(text) < 4096
    assert machines.ids(*[text] * MAX_FILTERS) == IDS
