"""Actions as plugfest clients post them: XML Action bodies, mangled action URIs, version headers."""
import pytest

from tests.interop.conftest import CIMI, NS


def machine(server, name="m1", **template):
    body = {"resourceURI": f"{CIMI}/MachineCreate", "name": name,
            "machineTemplate": {"machineConfig": {"href": server.first("machineConfigs")},
                                "machineImage": {"href": server.first("machineImages")}, **template}}
    return server.resource(server.request("POST", "/cimi/machines", body, headers={"Accept": "application/json"}))


def operation(resource, name):
    return next(o["href"] for o in resource["operations"] if o["rel"] == f"{CIMI}/action/{name}")


def xml_action(name, xmlns=True, mangle=False):
    uri = f" http://http://schemas.dmtf.org/cimi/1/action/{name}" if mangle else f"{CIMI}/action/{name}"
    return f'<Action{f" xmlns={chr(34)}{CIMI}{chr(34)}" if xmlns else ""}><action>{uri}</action></Action>'


@pytest.mark.parametrize("xmlns", [True, False])
def test_an_empty_202_to_an_xml_action_names_no_json(server, xmlns):
    """Deltacloud's machine_stop_start: XML Action, Accept XML, expects 202 and no JSON."""
    m = machine(server)
    answer = server.request("POST", operation(m, "stop"), xml_action("stop", xmlns, mangle=True),
                            headers={"Accept": "application/xml", "Content-Type": "application/xml"})
    assert answer.status == 202 and answer.media == "application/xml", answer.headers
    job = answer.xml                               # the Job itself (DSP0263 4.2.1.7), in the client's format
    assert job.tag == NS + "Job" and job.findtext(NS + "id") == answer.headers["CIMI-Job-URI"]
    assert job.findtext(NS + "action") == f"{CIMI}/action/stop"
    assert server.wait(answer.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    deleted = server.request("DELETE", m["id"], headers={"Accept": "application/xml"})
    assert deleted.status == 202 and deleted.media == "application/xml" and deleted.xml.tag == NS + "Job"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_action_body_naming_another_operation_is_told_which_the_href_means(server, fmt):
    m = machine(server)
    if fmt == "json":
        answer = server.request("POST", operation(m, "stop"), {"resourceURI": f"{CIMI}/Action",
                                                             "action": f"{CIMI}/action/restart"})
    else:
        answer = server.request("POST", operation(m, "stop"), xml_action("restart"),
                                headers={"Accept": "application/xml", "Content-Type": "application/xml"})
    assert answer.status == 400
    message = answer.json["statusMessage"] if fmt == "json" else answer.xml.findtext(NS + "statusMessage")
    assert f"{CIMI}/action/stop" in message and "restart" in message
    assert server.get(m["id"]).json["state"] == "STARTED"          # nothing was done


@pytest.mark.parametrize("asked,answered", [("1.0.0", "1.0.1"), ("1.0", "1.0.1"), ("1.0.1", "1.0.1"),
                                            ("1.1", "1.1.0"), ("1.1.0", "1.1.0"), ("2.0.0, 1.0.0", "1.0.1"),
                                            (None, "1.0.1")])
def test_a_version_we_speak_is_honoured_and_named(server, asked, answered):
    answer = server.get("/cimi/machines", headers={"CIMI-Specification-Version": asked} if asked else {})
    assert answer.status == 200 and answer.headers["CIMI-Specification-Version"] == answered


@pytest.mark.parametrize("asked", ["2.0.0", "2.0", "0.9", "1"])
def test_a_version_we_do_not_speak_is_refused_with_the_ones_we_do(server, asked):
    answer = server.get("/cimi/machines", headers={"CIMI-Specification-Version": asked})
    assert answer.status == 400 and "1.0.1" in answer.json["statusMessage"]
    assert answer.headers["CIMI-Specification-Version"] == "1.0.1"
