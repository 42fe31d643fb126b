"""Read-only sharing through an `acl` (Nuvla's owner + rules), on SQLite and PostgreSQL.

The ownership matrix (tests/api/test_ownership.py) extended: a resource
shared with a user, a group or everyone is read, listed, filtered, expanded
and referred to by them as their own, and stays unchangeable by them (403:
they can read it); an unshared one stays a 404 for them. Revoking a share,
deleting a user or a group hides it again.
"""
import pytest

from cimi import auth, store
from cimi.cloud import Cloud, Config
from tests.api.test_images import upload
from tests.api.test_store import database_url  # noqa: F401 (fixture: an empty SQLite or PostgreSQL database)
from tests.api.test_xml_schema import check, xsd  # noqa: F401 (fixture: DSP8009)
from tests.conftest import TEST_NODE, XML, Client, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
KEYS = {"MachineImage": "machineImages", "MachineTemplate": "machineTemplates",
        "VolumeConfiguration": "volumeConfigs", "VolumeTemplate": "volumeTemplates",
        "NetworkTemplate": "networkTemplates", "SystemTemplate": "systemTemplates"}
PRINCIPALS = ["user:bob", "group:devs", "everyone"]


@pytest.fixture
def cloud(tmp_path, monkeypatch, database_url):  # noqa: F811
    """tests/conftest.py's cloud (its app, admin, alice and bob use this one), on each database, bob in devs."""
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    c = Cloud(Config(data_dir=str(tmp_path / "var"), database=database_url, workers=2,
                     libvirt_uris=[f"test://{TEST_NODE}"], lease_poll=0))
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw", groups=["devs"])
    auth.add_user("carol", "carol-pw")
    yield c
    c.close()


@pytest.fixture
def carol(app):
    return Client(app, "carol", "carol-pw")


def made(client, key, body):
    resp = client.post(client.cep()[key]["href"], body)
    assert resp.status_code in (201, 202), resp.text
    if "CIMI-Job-URI" in resp.headers:
        assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    return resp.headers["Location"]


def uploaded_image(client, name, **params):
    resp = upload(client, b"\0" * 65536, name=name, **params)
    assert resp.status_code == 202, resp.text
    assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    return resp.headers["Location"]


def build(client, who):
    """One resource of each shareable kind a user may add, owned by `who`: {kind: href}."""
    ids = {"MachineImage": uploaded_image(client, f"{who}-img")}
    template = machine_body(client)["machineTemplate"]
    ids["MachineTemplate"] = made(client, "machineTemplates", {"name": f"{who}-t", **template,
                                                               "machineImage": {"href": ids["MachineImage"]}})
    ids["VolumeConfiguration"] = made(client, "volumeConfigs", {"name": f"{who}-vc", "capacity": 2048})
    ids["VolumeTemplate"] = made(client, "volumeTemplates", {"name": f"{who}-vt", "volumeConfig": {"capacity": 2048}})
    ids["NetworkTemplate"] = made(client, "networkTemplates", {"name": f"{who}-nt", "networkConfig": {
        "networkType": "PRIVATE"}})
    ids["SystemTemplate"] = made(client, "systemTemplates", {"name": f"{who}-st", "componentDescriptors": [
        {"name": f"{who}-sm", "type": f"{CIMI}/Machine", "machineTemplate": {"href": ids["MachineTemplate"]}}]})
    return ids


@pytest.fixture
def owned(alice):
    return build(alice, "alice")


def share(client, href, *principals):
    """Set a resource's acl to VIEW rules for these principals (through PUT ...?$select=acl); return the response."""
    return client.put(href + "?$select=acl", {"acl": {"rules": [{"principal": p, "right": "VIEW"}
                                                                for p in principals]}})


def listed(client, kind, query=""):
    doc = client.get(client.cep()[KEYS[kind]]["href"] + query).json
    items = [v for k, v in doc.items() if isinstance(v, list) and k != "operations"]
    return doc["count"], [item["id"] for item in (items[0] if items else [])]


def sees(client, kind, href):
    """What a user sees of a resource: by id, in the listing, through $filter on its name; all must agree."""
    by_id = client.get(href).status_code
    _, ids = listed(client, kind)
    _, filtered = listed(client, kind, f"?$filter=name='{store_name(kind)}'")
    seen = (by_id == 200, href in ids, href in filtered)
    assert len(set(seen)) == 1, (kind, seen)
    return seen[0]


def store_name(kind):
    return {"MachineImage": "alice-img", "MachineTemplate": "alice-t", "VolumeConfiguration": "alice-vc",
            "VolumeTemplate": "alice-vt", "NetworkTemplate": "alice-nt", "SystemTemplate": "alice-st"}[kind]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("kind", sorted(KEYS))
def test_a_share_lets_whom_it_names_read_list_and_filter(alice, bob, carol, owned, kind, principal):
    href = owned[kind]
    assert not sees(bob, kind, href) and not sees(carol, kind, href)
    resp = share(alice, href, principal)
    assert resp.status_code == 200, resp.text
    assert resp.json["acl"] == {"owner": "user:alice", "rules": [{"principal": principal, "right": "VIEW"}]}
    assert sees(bob, kind, href)
    assert sees(carol, kind, href) == (principal == "everyone")
    assert bob.get(href, accept=XML).status_code == 200
    assert bob.get(href).json["acl"] == {"owner": "user:alice"}          # whom else it reaches is not his business


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_a_shared_resource_stays_read_only(alice, bob, owned, kind):
    href = owned[kind]
    share(alice, href, "group:devs")
    before = alice.get(href).json
    doc = bob.get(href).json
    assert not doc.get("operations")
    for resp in (bob.put(href, {"name": "mine"}), share(bob, href, "user:bob", "everyone"), bob.delete(href)):
        assert resp.status_code == 403, (kind, resp.status_code, resp.text)
    if kind == "MachineImage":
        assert bob.post(href + "/capture", {"action": f"{CIMI}/action/capture"}).status_code in (403, 404)
    assert alice.get(href).json == before


def test_a_revoked_share_hides_the_resource_again(alice, bob, carol, owned):
    href = owned["MachineTemplate"]
    share(alice, href, "user:bob", "everyone")
    assert sees(bob, "MachineTemplate", href) and sees(carol, "MachineTemplate", href)
    assert share(alice, href, "user:bob").status_code == 200
    assert sees(bob, "MachineTemplate", href) and not sees(carol, "MachineTemplate", href)
    assert alice.put(href + "?$select=acl", {}).status_code == 200            # no acl: shared with nobody
    assert not sees(bob, "MachineTemplate", href)
    assert bob.get(href).status_code == 404 and bob.put(href, {"name": "x"}).status_code == 404


def machines(client):
    return client.get(client.cep()["machines"]["href"]).json["count"]


def test_a_machine_is_made_from_a_shared_image_and_never_from_an_unshared_one(alice, bob, owned):
    image, template = owned["MachineImage"], owned["MachineTemplate"]
    body = machine_body(bob, "from-alice")
    body["machineTemplate"]["machineImage"] = {"href": image}
    assert bob.post(bob.cep()["machines"]["href"], body).status_code == 404
    assert bob.post(bob.cep()["machines"]["href"], {"name": "t", "machineTemplate": {"href": template}}) \
        .status_code == 404
    assert machines(bob) == 0
    share(alice, template, "user:bob")            # the template alone: what it refers to stays alice's
    resp = bob.post(bob.cep()["machines"]["href"], {"name": "t", "machineTemplate": {"href": template}})
    assert resp.status_code == 404 and "no MachineImage" in resp.json["message"]
    assert machines(bob) == 0
    share(alice, image, "user:bob")
    made(bob, "machines", body)
    made(bob, "machines", {"name": "from-template", "machineTemplate": {"href": template}})
    assert machines(bob) == 2
    mine = made(bob, "machineTemplates", {"name": "bob-t", **machine_body(bob)["machineTemplate"],
                                          "machineImage": {"href": image}})
    expanded = bob.get(mine + "?$expand=machineImage").json
    assert expanded["machineImage"]["name"] == "alice-img"
    refused = alice.delete(image).json["message"]         # still used, by what alice may not read
    assert "of other users" in refused and "bob-t" not in refused and mine.rsplit("/", 1)[1] not in refused


def test_an_admin_shares_another_users_resource_and_the_admins_uploads(admin, alice, bob, carol, owned):
    href = owned["VolumeConfiguration"]
    resp = share(admin, href, "user:carol")
    assert resp.status_code == 200 and resp.json["acl"]["owner"] == "user:alice"
    assert sees(carol, "VolumeConfiguration", href) and not sees(bob, "VolumeConfiguration", href)
    public = uploaded_image(admin, "golden", public="true")
    private = uploaded_image(admin, "secret")
    for client in (alice, bob, carol):
        assert client.get(public).status_code == 200 and client.get(private).status_code == 404
    assert admin.get(public).json["acl"] == {"owner": "user:admin",
                                              "rules": [{"principal": "everyone", "right": "VIEW"}]}
    assert alice.get(public).json["acl"] == {"owner": "user:admin"}


@pytest.mark.parametrize("acl,message", [
    ({"rules": [{"principal": "user:nobody", "right": "VIEW"}]}, "no user nobody"),
    ({"rules": [{"principal": "group:nobody", "right": "VIEW"}]}, "no group nobody"),
    ({"rules": [{"principal": "user:bob", "right": "EDIT"}]}, "'EDIT' is not one of ['VIEW']"),
    ({"rules": [{"principal": "bob", "right": "VIEW"}]}, "not in the expected form (user:NAME, group:NAME or everyone)"),
    ({"owner": "user:bob", "rules": []}, "the owner of this resource is user:alice"),
    ({"rules": [{"principal": "user:bob"}]}, "'right' is a required property"),
])
def test_a_bad_acl_is_a_400_and_changes_nothing(alice, bob, owned, acl, message):
    href = owned["MachineImage"]
    before = alice.get(href).json
    resp = alice.put(href + "?$select=acl", {"acl": acl})
    assert resp.status_code == 400 and message in resp.json["message"], resp.text
    assert alice.get(href).json == before and bob.get(href).status_code == 404
    create = alice.post(alice.cep()["volumeConfigs"]["href"], {"name": "x", "capacity": 1, "acl": acl})
    assert create.status_code == 400
    assert listed(alice, "VolumeConfiguration")[0] == 1


def test_a_bad_public_flag_on_an_upload_is_a_400(alice):
    before = listed(alice, "MachineImage")
    resp = upload(alice, b"\0" * 512, name="x", public="yes")
    assert resp.status_code == 400 and "public" in resp.json["message"]
    assert listed(alice, "MachineImage") == before


def test_a_share_given_at_creation_is_kept(alice, bob):
    href = made(alice, "volumeConfigs", {"name": "small", "capacity": 1024,
                                         "acl": {"rules": [{"principal": "user:bob", "right": "VIEW"}]}})
    assert alice.get(href).json["acl"]["rules"] == [{"principal": "user:bob", "right": "VIEW"}]
    assert bob.get(href).status_code == 200


def test_deleting_a_user_removes_their_grants(cloud, alice, app, owned):
    href = owned["NetworkTemplate"]
    share(alice, href, "user:bob", "group:devs")
    assert auth.delete_user("bob") == 1
    assert alice.get(href).json["acl"]["rules"] == []                # devs had no one else
    assert store.sharing.holders("user:bob") == [] and store.sharing.holders("group:devs") == []
    auth.add_user("bob", "new-pw")
    assert not sees(Client(app, "bob", "new-pw"), "NetworkTemplate", href)


def test_deleting_a_group_removes_its_grants(cloud, alice, bob, carol, owned):
    auth.add_user("carol", "carol-pw", groups=["devs"])
    href = owned["SystemTemplate"]
    share(alice, href, "group:devs", "user:carol")
    assert sees(bob, "SystemTemplate", href)
    assert auth.delete_group("devs") == 2
    assert not sees(bob, "SystemTemplate", href) and sees(carol, "SystemTemplate", href)
    assert alice.get(href).json["acl"]["rules"] == [{"principal": "user:carol", "right": "VIEW"}]
    assert auth.delete_group("devs") == 0


def test_deleting_a_shared_resource_deletes_its_grants(alice, owned):
    href = owned["VolumeTemplate"]
    share(alice, href, "everyone")
    assert alice.delete(href).status_code == 200
    assert store.sharing.holders("everyone") == []


def test_a_shared_resource_validates_in_xml(alice, bob, owned, xsd):  # noqa: F811
    share(alice, owned["MachineImage"], "user:bob", "group:devs")
    check(xsd, bob.get(owned["MachineImage"], accept=XML), "MachineImage")
    doc = check(xsd, alice.get(owned["MachineImage"], accept=XML), "MachineImage")
    ext = "{urn:darn-simple-cloud:cimi}"
    assert doc.find(f"{ext}acl/{ext}owner").text == "user:alice"
    assert [r.findtext(f"{ext}principal") for r in doc.findall(f"{ext}acl/{ext}rule")] == ["user:bob", "group:devs"]
    check(xsd, bob.get(bob.cep()["machineImages"]["href"], accept=XML), "Collection")


def test_a_share_put_in_xml_is_kept(alice, bob, owned):
    href = owned["MachineTemplate"]
    body = (f'<MachineTemplate xmlns="{CIMI}" xmlns:x="urn:darn-simple-cloud:cimi"><x:acl>'
            '<x:rule><x:principal>user:bob</x:principal><x:right>VIEW</x:right></x:rule></x:acl></MachineTemplate>')
    resp = alice.put(href + "?$select=acl", body, fmt="xml")
    assert resp.status_code == 200, resp.text
    assert resp.json["acl"]["rules"] == [{"principal": "user:bob", "right": "VIEW"}]
    assert bob.get(href).status_code == 200
