"""Collection queries over HTTP: $filter, $orderby, $first/$last, $select, $expand (DSP0263 4.1.6)."""
import pytest

from tests.conftest import XML


@pytest.fixture
def configs(admin):
    """Five MachineConfigurations besides the three seeded ones."""
    href = admin.cep()["machineConfigs"]["href"]
    for name, cpu, memory in [("c1", 1, 1024), ("c2", 2, 2048), ("c3", 3, 4096), ("c4", 4, 4096), ("c5", 8, 8192)]:
        resp = admin.post(href, {"name": name, "cpu": cpu, "memory": memory, "properties": {"tier": name[-1]}})
        assert resp.status_code == 201, resp.text
    return href


def names(resp):
    assert resp.status_code == 200, resp.text
    return [item["name"] for item in resp.json.get("machineConfigurations", [])]


@pytest.mark.parametrize("query, expected", [
    ("$filter=name='c1'", {"c1"}),
    ("$filter=cpu>=3 and memory<8192", {"c3", "c4"}),
    ("$filter=cpu=1 or cpu=8 and memory=8192", {"c1", "c5", "small"}),
    ("$filter=(cpu=1 or cpu=8) and memory=8192", {"c5"}),
    ("$filter=4=cpu", {"c4", "large"}),
    ("$filter=property['tier']='3'", {"c3"}),
    ("$filter=not(cpu<8)", {"c5"}),
    ("$filter=created>2000-01-01T00:00:00Z and name!='small'", {"c1", "c2", "c3", "c4", "c5", "medium", "large"}),
    ("$filter=name='c1'&$filter=cpu=2", set()),
])
def test_filter_selects_exactly(admin, configs, query, expected):
    resp = admin.get(f"{configs}?{query}")
    assert set(names(resp)) == expected
    assert resp.json["count"] == len(expected)


@pytest.mark.parametrize("query", ["$filter=property[tier]='1'", "$filter=cpu=3.2", "$filter=()",
                                   "$filter=bogus=1", "$filter=name>3", "$filter=" + "(" * 5000,
                                   "$first=-1", "$first=x", "$orderby=bogus:desc"])
def test_bad_queries_are_400_with_a_pointer(admin, configs, query):
    resp = admin.get(f"{configs}?{query}")
    assert resp.status_code == 400, resp.text
    assert resp.json["state"] == "FAILED" and "bad query" in resp.json["statusMessage"]


def test_orderby_and_paging(admin, configs):
    ordered = names(admin.get(f"{configs}?$orderby=cpu:desc,name&$filter=name!='small'"))
    assert ordered[:3] == ["c5", "c4", "large"]
    page = admin.get(f"{configs}?$orderby=name&$first=2&$last=3")
    assert names(page) == ["c2", "c3"] and page.json["count"] == 8
    assert names(admin.get(f"{configs}?$orderby=name&$first=7")) == ["medium", "small"]
    empty = admin.get(f"{configs}?$first=4&$last=2")
    assert empty.json["count"] == 8 and "machineConfigurations" not in empty.json


def test_select_trims_items_in_xml_and_json(admin, configs):
    xml = admin.get(f"{configs}?$select=name&$filter=name='c1'", accept=XML).text
    assert "<name>c1</name>" in xml and "<cpu>" not in xml and "<operation" not in xml.split("<MachineConfiguration>")[1].split("</MachineConfiguration>")[0]
    item = admin.get(f"{configs}?$select=name,cpu&$filter=name='c2'").json["machineConfigurations"][0]
    assert item == {"resourceURI": "http://schemas.dmtf.org/cimi/1/MachineConfiguration", "name": "c2", "cpu": 2}


def test_unknown_parameters_are_ignored(admin, configs):
    assert admin.get(f"{configs}?$unknown=1&foo=bar").status_code == 200
