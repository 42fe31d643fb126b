"""The CloudEntryPoint without credentials (plugfest clients discover collections anonymously)."""
import pytest

from tests.interop.conftest import NS, RawClient, start_server


def test_anonymous_read_of_the_entry_point_names_the_collections(server):
    for path in ("/cimi/cloudEntryPoint", "/cimi/", "/cimi"):
        answer = server.get(path, accept="application/xml", auth=False)
        assert answer.status == 200, (path, answer.body)
        assert answer.media == "application/xml" and "Authorization" in answer.headers["Vary"]
        root = answer.xml
        assert root.tag == NS + "CloudEntryPoint"
        assert root.findtext(NS + "baseURI") == server.base and root.findtext(NS + "name")
        hrefs = {el.tag[len(NS):]: el.get("href") for el in root if el.get("href")}
        assert hrefs["machines"] == server.base + "machines" and "volumes" in hrefs and "jobs" in hrefs
        assert root.find(NS + "operation") is None
    doc = server.get("/cimi/cloudEntryPoint", auth=False).json
    assert set(doc) - {k for k, v in doc.items() if isinstance(v, dict) and set(v) == {"href"}} <= {
        "resourceURI", "id", "name", "description", "baseURI", "created", "updated"}
    assert doc == server.cep()        # the same document a user reads


@pytest.mark.parametrize("method,path", [("GET", "/cimi/machines"), ("GET", "/cimi/jobs"),
                                         ("GET", "/cimi/resourceMetadata"), ("POST", "/cimi/cloudEntryPoint"),
                                         ("PUT", "/cimi/cloudEntryPoint"), ("DELETE", "/cimi/machines/x")])
def test_everything_else_needs_credentials(server, method, path):
    answer = server.request(method, path, headers={"Accept": "application/xml"}, auth=False)
    assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.media == "application/xml" and answer.xml.findtext(NS + "state") == "FAILED"


def test_wrong_credentials_are_refused_on_the_entry_point_too(server):
    wrong = RawClient(server.port, "admin", "guess")
    answer = wrong.get("/cimi/cloudEntryPoint")
    assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("args,env", [((), {"CIMI_PUBLIC_ENTRY_POINT": "no"}), (("--no-public-entry-point",), {}),
                                      (("--no-public-entry-point",), {"CIMI_PUBLIC_ENTRY_POINT": "yes"})])
def test_a_private_entry_point_needs_credentials(tmp_path, args, env):
    proc, port = start_server(tmp_path, *args, **env)
    try:
        client = RawClient(port)
        answer = client.get("/cimi/cloudEntryPoint", auth=False)
        assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")
        assert client.get("/cimi/cloudEntryPoint").status == 200
    finally:
        proc.terminate()
        proc.wait(20)
