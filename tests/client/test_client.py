"""The shared client library: discovery, lookups, errors and job waiting, against a live server."""
import pytest

from cimiclient import (
    Client,
    Conflict,
    ConnectionFailed,
    JobTimeout,
    NotFound,
    Unauthorized,
    filter_literal,
    short_id,
)
from cimiclient.errors import message_of
from cimiclient.transport import Headers


def test_entry_point_discovery(client, server):
    assert client.cep["resourceURI"].endswith("/CloudEntryPoint")
    assert client.href("machines") == server.replace("cloudEntryPoint", "machines")
    with pytest.raises(NotFound):
        client.href("forwardingGroups")


def test_find_by_id_name_and_url(client):
    small = client.find("machineConfigs", "small")
    assert client.find("machineConfigs", short_id(small["id"]))["id"] == small["id"]
    assert client.find("machineConfigs", small["id"])["name"] == "small"
    with pytest.raises(NotFound):
        client.find("machineConfigs", "huge")


def test_names_with_quotes_and_duplicates(client):
    body = client.machine_body("o'brien", config="small", image="blank", initial_state="STOPPED")
    client.finish(client.create("machines", body))
    assert client.find("machines", "o'brien")["name"] == "o'brien"
    client.finish(client.create("machines", body))
    with pytest.raises(Conflict, match="2 machines are named"):
        client.find("machines", "o'brien")
    assert filter_literal("a'b\\c") == "'a\\'b\\\\c'"


def test_server_errors_carry_the_status_message(server):
    with pytest.raises(Unauthorized, match="wrong user name or password") as err:
        Client.connect(server, "alice", "bad").cep
    assert err.value.status == 401
    with pytest.raises(ConnectionFailed):
        Client.connect("http://127.0.0.1:9/cimi/", "a", "b", timeout=5).cep


def test_wait_times_out_on_a_running_job(client, monkeypatch):
    body = client.machine_body("slow", config="small", image="blank")
    result = client.create("machines", body)
    real_get = client.get
    monkeypatch.setattr(client, "get", lambda href, **kw: {**real_get(href, **kw), "state": "RUNNING"}
                        if href == result.job else real_get(href, **kw))
    seen = []
    with pytest.raises(JobTimeout, match="still RUNNING"):
        client.wait(result.job, timeout=0.3, on_progress=seen.append)
    assert seen and all(j["state"] == "RUNNING" for j in seen)


def test_error_bodies_in_json_and_xml():
    assert message_of(b'{"statusMessage": "nope", "state": "FAILED"}', 409)[0] == "nope"
    xml = b'<Job xmlns="http://schemas.dmtf.org/cimi/1"><statusMessage>bad xml</statusMessage></Job>'
    assert message_of(xml, 400)[0] == "bad xml"
    assert message_of(b"", 502)[0] == "HTTP 502"
    headers = Headers({"CIMI-Job-URI": "x"})
    assert headers.get("cimi-job-uri") == "x" and "Cimi-Job-Uri" in headers
