"""Habits of clients written against the 2013 servers, spoken as raw HTTP (cimi-reference 1.1-1.4, 2.x).

Deltacloud's plugfest helper compared Content-Type with "application/json"
and "application/xml" exactly, accepted 201 and 202 alike for a create, sent
RestClient's `*/*` or no Accept at all, charset parameters, XML with and
without the CIMI namespace, and checked `count` against the entries it read.
"""
import pytest

from tests.interop.conftest import CIMI, NS


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; charset=utf-8",
                                    "text/html, */*;q=0.1"])
def test_any_accept_a_client_sends_gets_plain_json(server, accept):
    answer = server.get("/cimi/machines", accept=accept)
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    assert answer.json["resourceURI"] == f"{CIMI}/MachineCollection"


@pytest.mark.parametrize("accept", ["application/xml", "application/xml; charset=UTF-8", "text/xml"])
def test_xml_accepts_get_namespaced_xml(server, accept):
    answer = server.get("/cimi/cloudEntryPoint", accept=accept)
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/xml"
    assert answer.xml.tag == NS + "CloudEntryPoint" and answer.xml.nsmap[None] == CIMI


def test_format_overrides_accept(server):
    assert server.get("/cimi/machines?$format=json", accept="application/xml").media == "application/json"
    assert server.get("/cimi/machines?$format=XML", accept="application/json").media == "application/xml"


def test_a_create_is_201_or_202_with_location_either_way(server):
    """Synchronous kinds answer 201, Job-backed ones 202; clients accept both and follow Location."""
    config = server.request("POST", "/cimi/machineConfigs", {"resourceURI": f"{CIMI}/MachineConfiguration",
                                                             "name": "tiny", "cpu": 1, "memory": 262144,
                                                             "cpuArch": "x86_64"})
    assert config.status == 201 and config.headers["Location"] == config.json["id"]
    volume = server.request("POST", "/cimi/volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    assert volume.status == 202 and volume.headers["Location"] == volume.json["id"]
    assert volume.headers["CIMI-Job-URI"].startswith(server.base + "jobs/")
    for answer in (config, volume):
        assert server.resource(answer)["id"] == answer.headers["Location"]


@pytest.mark.parametrize("content_type", ["application/xml", "application/xml; charset=UTF-8", "text/xml",
                                          "application/xml;charset=utf-8"])
@pytest.mark.parametrize("xmlns", [f' xmlns="{CIMI}"', ""])
def test_xml_bodies_with_or_without_namespace_and_charset(server, content_type, xmlns):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><VolumeCreate{xmlns}><name>x</name><volumeTemplate>'
            f'<volumeConfig><capacity>1024</capacity></volumeConfig></volumeTemplate></VolumeCreate>')
    answer = server.request("POST", "/cimi/volumes", body,
                            headers={"Content-Type": content_type, "Accept": "application/xml"})
    assert answer.status in (201, 202), answer.body
    assert answer.xml.tag == NS + "Volume" and answer.xml.findtext(NS + "name") == "x"


def test_json_bodies_with_a_charset(server):
    answer = server.request("POST", "/cimi/volumes", '{"volumeTemplate": {"volumeConfig": {"capacity": 1024}}}',
                            headers={"Content-Type": "application/json; charset=UTF-8"})
    assert answer.status == 202 and answer.media == "application/json"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_count_agrees_with_the_entries_and_is_there_when_empty(server, fmt):
    """Plugfest check_collection: count.to_i == entries.size; an empty collection still says 0."""
    accept = f"application/{fmt}"
    for path in ("/cimi/machineConfigs", "/cimi/credentials", "/cimi/machineConfigs?$filter=name='none'"):
        answer = server.get(path, accept=accept)
        if fmt == "json":
            doc = answer.json
            entries = next((v for k, v in doc.items() if isinstance(v, list) and k != "operations"), [])
            assert doc["count"] == len(entries)
        else:
            root = answer.xml
            entries = [el for el in root if el.tag not in (NS + "id", NS + "count", NS + "operation")]
            assert root.tag == NS + "Collection" and root.get("resourceURI").endswith("Collection")
            assert int(root.findtext(NS + "count")) == len(entries)
    paged = server.get("/cimi/machineConfigs?$first=1&$last=1").json
    assert len(paged["machineConfigurations"]) == 1 and paged["count"] >= 3      # count is before paging


def test_mangled_action_uris_of_the_plugfest_helper(server):
    """`<action> http://http://schemas.dmtf.org/cimi/1/action/stop</action>` still means stop."""
    from tests.interop.test_actions import machine, operation, xml_action
    m = machine(server, "mangled")
    answer = server.request("POST", operation(m, "stop"), xml_action("stop", xmlns=False, mangle=True),
                            headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    assert answer.status == 202
    assert server.wait(answer.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert server.get(m["id"]).json["state"] == "STOPPED"
