"""Status codes, error bodies and negotiation (cimi-reference 1.1, 1.6, 4.3; vectors 3-7, 14-17, 46, 60).

Every error answer must be a Job-shaped CIMI document (state FAILED, a
statusMessage) in the negotiated format, and a refused request must leave
every collection as it was.
"""
import base64
import json

import pytest
from lxml import etree

from tests.conftest import JSON, XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI


def counts(admin):
    """The count of every CEP collection, as the administrator (who sees everything) reads it."""
    out = {}
    for key, value in admin.cep().items():
        if isinstance(value, dict) and "href" in value and key != "jobs":
            out[key] = admin.get(value["href"]).json["count"]
    return out


def assert_error(resp, status, fmt="json"):
    """Assert a Job-shaped CIMI error of this status in this format; return it as a dict."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    media = resp.headers.get("Content-Type", "").split(";")[0]
    if fmt == "json":
        assert media == JSON, media
        doc = json.loads(resp.content)
        assert doc["resourceURI"] == f"{CIMI}/Job"
        assert doc["state"] == "FAILED" and doc["statusMessage"].strip()
        assert doc.get("returnCode", status) == status
        return doc
    assert media == XML, media
    root = etree.fromstring(resp.content)
    assert root.tag == NS + "Job"
    assert root.findtext(NS + "state") == "FAILED" and root.findtext(NS + "statusMessage").strip()
    return {etree.QName(c).localname: c.text for c in root}


@pytest.fixture
def refs(alice):
    cep = alice.cep()
    return {"config": alice.get(cep["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"],
            "image": alice.get(cep["machineImages"]["href"]).json["machineImages"][0]["id"],
            "machines": cep["machines"]["href"], "volumes": cep["volumes"]["href"]}


def xml_create(refs, root="MachineCreate", extra=""):
    return (f'<{root} xmlns="{CIMI}"><name>x</name><machineTemplate><machineConfig href="{refs["config"]}"/>'
            f'<machineImage href="{refs["image"]}"/></machineTemplate>{extra}</{root}>')


# --- 400 -----------------------------------------------------------------------------

def bad_bodies(refs):
    """(case, body, content type) triples that must each be refused with 400 on the machines collection."""
    good = {"resourceURI": f"{CIMI}/MachineCreate", "name": "x",
            "machineTemplate": {"machineConfig": {"href": refs["config"]}, "machineImage": {"href": refs["image"]}}}

    def variant(**changes):
        body = json.loads(json.dumps(good))
        for path, value in changes.items():
            target = body
            keys = path.split("__")
            for key in keys[:-1]:
                target = target[key]
            if value is KeyError:
                target.pop(keys[-1])
            else:
                target[keys[-1]] = value
        return json.dumps(body)

    return [
        ("malformed JSON", '{"name": "x", "machineTemplate": ', JSON),
        ("JSON array", "[1, 2]", JSON),
        ("JSON string", '"MachineCreate"', JSON),
        ("trailing garbage JSON", variant() + "}", JSON),
        ("malformed XML", f'<MachineCreate xmlns="{CIMI}"><name>x</MachineCreate>', XML),
        ("XML with a DOCTYPE", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
                               f'<MachineCreate xmlns="{CIMI}"><name>&e;</name></MachineCreate>', XML),
        ("XML of another type", xml_create(refs, "VolumeCreate"), XML),
        ("unknown attribute (vector 16)", variant(bogusAttr=1), JSON),
        ("unknown attribute in template", variant(machineTemplate__bogus="x"), JSON),
        ("unknown XML element", xml_create(refs, extra="<bogusAttr>1</bogusAttr>"), XML),
        ("missing machineTemplate", variant(machineTemplate=KeyError), JSON),
        ("missing machineImage (vector 15)", variant(machineTemplate__machineImage=KeyError), JSON),
        ("missing machineConfig", variant(machineTemplate__machineConfig=KeyError), JSON),
        ("href of another provider", variant(machineTemplate__machineConfig={"href": "http://elsewhere/x/y"}), JSON),
        ("href of the wrong type", variant(machineTemplate__machineConfig={"href": refs["image"]}), JSON),
        ("href that is not a string", variant(machineTemplate__machineImage={"href": 7}), JSON),
        ("name is a number", variant(name=5), JSON),
        ("name is a list", variant(name=["a"]), JSON),
        ("properties is a list", variant(properties=["a"]), JSON),
        ("property value is a number", variant(properties={"a": 1}), JSON),
        ("cpu is not a number", variant(machineTemplate__machineConfig={"cpu": "many", "memory": 1024}), JSON),
        ("cpu is negative", variant(machineTemplate__machineConfig={"cpu": -1, "memory": 1024}), JSON),
        ("initialState is not a state", variant(machineTemplate__initialState="FLYING"), JSON),
        ("userData is not Base64", variant(machineTemplate__userData="%%% not base64 %%%"), JSON),
        ("resourceURI of another type", variant(resourceURI=f"{CIMI}/VolumeCreate"), JSON),
    ]


CASES = [c[0] for c in bad_bodies({"config": "C", "image": "I"})]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("accept", [JSON, XML])
def test_bad_create_is_400_and_creates_nothing(alice, admin, refs, case, accept):
    _, body, content_type = {c[0]: c for c in bad_bodies(refs)}[case]
    before = counts(admin)
    resp = alice.post(refs["machines"], body, headers={"Content-Type": content_type}, accept=accept)
    assert_error(resp, 400, "xml" if accept == XML else "json")
    assert "CIMI-Job-URI" not in resp.headers and "Location" not in resp.headers
    assert counts(admin) == before


def test_reference_to_missing_template_is_4xx(alice, admin, refs):
    """Vector 14: a machineTemplate href that names nothing."""
    before = counts(admin)
    resp = alice.post(refs["machines"], {"machineTemplate": {"href": refs["machines"].replace(
        "/machines", "/machineTemplates/DOES-NOT-EXIST")}})
    assert resp.status_code in (400, 404)
    assert_error(resp, resp.status_code)
    assert counts(admin) == before


@pytest.mark.parametrize("body", [
    {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {"volumeConfig": {"capacity": "lots"}}},
    {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {"volumeConfig": {"capacity": 0}}},
    {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {}},
    {"resourceURI": f"{CIMI}/VolumeCreate"},
    {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {"volumeConfig": {"capacity": 1}, "size": 3}},
])
def test_bad_volume_is_400(alice, admin, refs, body):
    before = counts(admin)
    assert_error(alice.post(refs["volumes"], body), 400)
    assert counts(admin) == before


@pytest.mark.parametrize("header", ["9.9", "2.0", "0.9.1", "banana", "1.0.1.7"])
def test_unsupported_version_is_400(alice, header):
    """Vector 7: no entry of the preference list prefix-matches an implemented version."""
    assert_error(alice.get("/cimi/cloudEntryPoint", headers={"CIMI-Specification-Version": header}), 400)


@pytest.mark.parametrize("header,expected", [("2.3.4, 1.0", "1.0.1"), ("1", None), ("1.0", "1.0.1"),
                                             ("1.0.1", "1.0.1"), ("garbage, 1.0", "1.0.1"), (None, None)])
def test_version_negotiation(alice, header, expected):
    """Vector 6: the first entry that prefix-matches wins; the answer names the version used."""
    headers = {"CIMI-Specification-Version": header} if header else {}
    resp = alice.get("/cimi/cloudEntryPoint", headers=headers)
    if header == "1":        # a bare major is malformed (major.minor[.update]): skipped, then nothing is left
        assert_error(resp, 400)
        return
    assert resp.status_code == 200
    version = resp.headers["CIMI-Specification-Version"]
    assert version.startswith("1.")
    if expected:
        assert version == expected


def test_version_header_on_errors_too(alice):
    resp = alice.get("/cimi/machines/nope")
    assert resp.status_code == 404 and resp.headers["CIMI-Specification-Version"].startswith("1.")


# --- 401 / 403 -------------------------------------------------------------------------

def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("authorization", [None, basic("alice", "wrong"), basic("nobody", "x"),
                                           "Basic !!!not-base64!!!", "Bearer abc", basic("alice", "")])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unauthenticated_is_401_with_challenge(app, admin, authorization, fmt):
    headers = {"Accept": XML if fmt == "xml" else JSON}
    if authorization:
        headers["Authorization"] = authorization
    before = counts(admin)
    anonymous_reads = [] if authorization is None else [("GET", "/cimi/cloudEntryPoint")]   # public CEP
    for method, path in anonymous_reads + [("GET", "/cimi/machines"), ("POST", "/cimi/volumes"),
                                           ("POST", "/cimi/cloudEntryPoint")]:
        resp = app.simulate_request(method, path, headers={**headers, "Content-Type": JSON},
                                    body=json.dumps({"volumeTemplate": {"volumeConfig": {"capacity": 1}}}))
        assert_error(resp, 401, fmt)
        assert resp.headers.get("WWW-Authenticate", "").startswith("Basic")
        assert "alice" not in resp.text or authorization is None
    assert counts(admin) == before


def test_plain_user_cannot_add_configuration(alice, admin):
    before = counts(admin)
    resp = alice.post(alice.cep()["machineConfigs"]["href"], {"name": "huge", "cpu": 64, "memory": 1 << 30})
    assert_error(resp, 403)
    assert counts(admin) == before


# --- 404 / 405 -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/cimi/machines/does-not-exist", "/cimi/noSuchCollection",
                                  "/cimi/noSuchCollection/x", "/cimi/volumes/x/y",
                                  "/cimi/machineConfigs/does-not-exist", "/cimi/jobs/does-not-exist",
                                  "/cimi/resourceMetadata/nothing", "/cimi/machines/nope/disks",
                                  "/nothing-here"])
@pytest.mark.parametrize("accept", [JSON, XML])
def test_unknown_is_404(alice, path, accept):
    """Vector 60."""
    resp = alice.get(path, accept=accept)
    assert resp.status_code == 404
    if path.startswith("/cimi"):
        assert_error(resp, 404, "xml" if accept == XML else "json")


def test_unknown_action_is_404(alice, admin):
    _, machine = alice.create("machines", machine_body(alice))
    before = counts(admin)
    assert_error(alice.post(machine["id"] + "/explode", {"action": f"{CIMI}/action/explode"}), 404)
    assert counts(admin) == before


@pytest.mark.parametrize("method,path", [("DELETE", "/cimi/machines"), ("PUT", "/cimi/machines"),
                                         ("POST", "/cimi/cloudEntryPoint"), ("DELETE", "/cimi/cloudEntryPoint"),
                                         ("POST", "/cimi/jobs"), ("POST", "/cimi/resourceMetadata")])
def test_wrong_verb_is_405_with_allow(alice, admin, method, path):
    before = counts(admin)
    resp = alice.request(method, path, {"name": "x"})
    assert_error(resp, 405)
    assert "GET" in resp.headers.get("Allow", "")        # RFC 9110 15.5.6: a 405 lists what is allowed
    assert counts(admin) == before


def test_edit_of_a_job_is_405(alice):
    resp, _ = alice.create("volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    job = alice.get(resp.headers["CIMI-Job-URI"]).json
    assert "edit" not in {o["rel"] for o in job.get("operations", [])}
    assert_error(alice.put(job["id"], {"name": "mine"}), 405)
    assert alice.get(job["id"]).json.get("name") == job.get("name")


# --- 406 / 415 / 413 --------------------------------------------------------------------

@pytest.mark.parametrize("accept", ["text/html", "text/plain", "image/png, text/html;q=0.5"])
def test_unacceptable_accept_is_406(alice, accept):
    """Vector 5; the error itself comes back as JSON, the default."""
    assert_error(alice.get("/cimi/cloudEntryPoint", accept=accept), 406)


def test_406_on_create_creates_nothing(alice, admin, refs):
    before = counts(admin)
    resp = alice.post(refs["machines"], machine_body(alice), accept="text/html")
    assert_error(resp, 406)
    assert counts(admin) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/yaml",
                                          "multipart/form-data; boundary=x"])
def test_unsupported_content_type_is_415(alice, admin, refs, content_type):
    """Vector 17."""
    before = counts(admin)
    resp = alice.post(refs["machines"], json.dumps(machine_body(alice)), headers={"Content-Type": content_type})
    assert_error(resp, 415)
    assert counts(admin) == before


def test_body_over_the_limit_is_413(alice, admin, refs):
    before = counts(admin)
    body = machine_body(alice)
    body["description"] = "x" * (1024 * 1024 + 10)
    resp = alice.post(refs["machines"], json.dumps(body), headers={"Content-Type": JSON})
    assert_error(resp, 413)
    assert counts(admin) == before


def test_xml_body_over_the_limit_is_413(alice, admin, refs):
    before = counts(admin)
    resp = alice.post(refs["machines"], xml_create(refs, extra="<description>" + "y" * (1024 * 1024) +
                                                   "</description>"), fmt="xml", accept=XML)
    assert_error(resp, 413, "xml")
    assert counts(admin) == before


def test_body_just_under_the_limit_is_not_413(alice, refs):
    body = machine_body(alice)
    body["description"] = ""
    filler = 1024 * 1024 - len(json.dumps(body)) - 10
    body["description"] = "z" * filler
    resp = alice.post(refs["machines"], json.dumps(body), headers={"Content-Type": JSON})
    assert resp.status_code != 413
    assert resp.status_code in (201, 202, 400)


# --- 409 / 412 ------------------------------------------------------------------------------

def test_wrong_state_is_409_and_changes_nothing(alice):
    """Vector 25: start on a STARTED machine through a guessed href."""
    _, machine = alice.create("machines", machine_body(alice))
    for fmt in ("json", "xml"):
        resp = alice.post(machine["id"] + "/start", {"action": f"{CIMI}/action/start"},
                          accept=XML if fmt == "xml" else JSON)
        assert_error(resp, 409, fmt)
    after = alice.get(machine["id"]).json
    assert after["state"] == "STARTED" and after["updated"] == machine["updated"]


def test_delete_of_a_machine_image_in_use_is_409(alice, admin):
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    capture = alice.post(alice.cep()["machineImages"]["href"], {"name": "cap", "type": "IMAGE",
                                                               "imageLocation": machine["id"]})
    assert capture.status_code in (201, 202), capture.text
    assert alice.wait(capture.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    image = alice.get(capture.headers["Location"]).json
    _, clone = alice.create("machines", machine_body(alice, machineImage={"href": image["id"]}))
    before = counts(admin)
    assert_error(alice.delete(image["id"]), 409)
    assert counts(admin) == before and alice.get(image["id"]).json["state"] == "AVAILABLE"


def test_delete_of_an_attached_volume_is_409(alice, admin):
    _, machine = alice.create("machines", machine_body(alice))
    _, volume = alice.create("volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    resp = alice.post(machine["volumes"]["href"], {"volume": {"href": volume["id"]}, "initialLocation": "vdb"})
    assert resp.status_code in (201, 202), resp.text
    if resp.status_code == 202:
        job = alice.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
    before = counts(admin)
    assert_error(alice.delete(volume["id"]), 409)
    assert counts(admin) == before
    assert alice.get(volume["id"]).json["state"] == "AVAILABLE"


def test_stale_if_match_is_412(alice):
    """Vector 46."""
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.get(machine["id"])
    tag = resp.headers["ETag"]
    ok = alice.put(machine["id"], {"name": "renamed"}, headers={"If-Match": tag})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] != tag
    stale = alice.put(machine["id"], {"name": "lost update"}, headers={"If-Match": tag})
    assert_error(stale, 412)
    assert alice.get(machine["id"]).json["name"] == "renamed"
    assert_error(alice.put(machine["id"], {"name": "x"}, headers={"If-Match": '"nonsense"'}), 412)


def test_stale_if_match_on_delete_and_action_is_412(alice):
    _, machine = alice.create("machines", machine_body(alice))
    stale = alice.get(machine["id"]).headers["ETag"]
    assert alice.put(machine["id"], {"name": "bump"}).status_code == 200
    assert_error(alice.delete(machine["id"], headers={"If-Match": stale}), 412)
    assert_error(alice.post(machine["id"] + "/stop", {"action": f"{CIMI}/action/stop"},
                            headers={"If-Match": stale}), 412)
    assert alice.get(machine["id"]).json["state"] == "STARTED"


# --- negotiation (vectors 3-5) -----------------------------------------------------------------

@pytest.mark.parametrize("accept,media", [
    ("*/*", {JSON, XML}), (None, {JSON}), ("", {JSON}), (JSON, {JSON}), (XML, {XML}), ("text/xml", {XML, "text/xml"}),
    ("application/*", {JSON, XML}), ("application/xml;q=0.5, application/json", {JSON}),
    ("application/json;q=0.1, application/xml;q=0.9", {XML}), ("text/html, application/xml", {XML}),
])
def test_accept_negotiation(app, accept, media):
    headers = {"Authorization": basic("alice", "alice-pw")}
    if accept is not None:
        headers["Accept"] = accept
    resp = app.simulate_get("/cimi/cloudEntryPoint", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0] in media


@pytest.mark.parametrize("query,accept,media", [
    ("$format=xml", JSON, XML), ("$format=JSON", XML, JSON), ("$format=Xml", JSON, XML),
    ("$format=json", "text/html", JSON), ("$format=xml&$format=json", JSON, XML),
])
def test_format_parameter_wins_over_accept(alice, query, accept, media):
    """Vector 4: case-insensitive, the first occurrence counts, and it rescues an unsupported Accept."""
    resp = alice.get("/cimi/cloudEntryPoint?" + query, accept=accept)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0] == media


def test_format_parameter_on_errors(alice):
    resp = alice.get("/cimi/machines/nope?$format=xml", accept=JSON)
    assert_error(resp, 404, "xml")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json;charset=UTF-8"])
def test_json_content_type_with_charset_is_accepted(alice, content_type):
    resp = alice.post(alice.cep()["volumes"]["href"],
                      json.dumps({"volumeTemplate": {"volumeConfig": {"capacity": 1024}}}),
                      headers={"Content-Type": content_type})
    assert resp.status_code in (201, 202), resp.text


@pytest.mark.parametrize("content_type", ["text/xml", "application/xml; charset=utf-8"])
def test_xml_content_types_are_accepted(alice, refs, content_type):
    body = f'<VolumeCreate xmlns="{CIMI}"><volumeTemplate><volumeConfig><capacity>1024</capacity>' \
           '</volumeConfig></volumeTemplate></VolumeCreate>'
    resp = alice.post(refs["volumes"], body, headers={"Content-Type": content_type})
    assert resp.status_code in (201, 202), resp.text


def test_unknown_query_parameters_are_ignored(alice):
    """Vector 42."""
    resp = alice.get(alice.cep()["machines"]["href"] + "?$unknown=1&foo=bar")
    assert resp.status_code == 200 and resp.json["resourceURI"] == f"{CIMI}/MachineCollection"


@pytest.mark.parametrize("query", ["$filter=()", "$filter=", "$filter=alpha=3.2", "$filter=property[owner]='a'",
                                   "$filter=name='a", "$filter=cpu>"])
def test_bad_filter_is_400(alice, query):
    """Vector 38."""
    assert_error(alice.get(alice.cep()["machines"]["href"] + "?" + query), 400)
