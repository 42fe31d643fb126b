"""Users as an admin-only extension collection (`users`), on SQLite and PostgreSQL.

Administrators add, change and delete users through the API as on the host
(`cimi-server users`); a user reads their own record only; the password is
never shown in JSON or XML; bad input changes nothing; groups are what
sharing reaches; a database made before users were resources keeps them.
"""
import json

import pytest
from falcon import testing
from lxml import etree

from cimi import auth, store
from cimi.http.app import create_app
from cimi.store import db, migrations
from cimi.store.migrations.v0001_initial import User as OldUser
from cimi.vocabulary import EXTENSION_NS
from tests.api.test_concurrency import server  # noqa: F401 (fixture: waitress on loopback, over our cloud)
from tests.api.test_quotas import race
from tests.api.test_store import database_url, make_cloud  # noqa: F401 (fixture)
from tests.api.test_xml_schema import XSD, check
from tests.conftest import XML, Client

CIMI = "http://schemas.dmtf.org/cimi/1"


@pytest.fixture
def cloud(tmp_path, database_url, monkeypatch):  # noqa: F811
    c = make_cloud(tmp_path, database_url, monkeypatch)
    auth.add_user("alice", "alice-pw")
    yield c
    c.close()


@pytest.fixture
def app(cloud):
    return testing.TestClient(create_app(cloud))


def as_(app, user, password=None):
    return Client(app, user, password or user + "-pw")


def users_href(client):
    return client.cep()["users"]["href"]


def names(client, query=""):
    return [u["name"] for u in client.get(users_href(client) + query).json["users"]]


def add(admin, **body):
    resp = admin.post(users_href(admin), body)
    assert resp.status_code == 201, resp.text
    return admin.get(resp.headers["Location"]).json


def test_admins_add_users_who_sign_in_and_read_only_their_own(app):
    admin, alice = as_(app, "admin"), as_(app, "alice")
    carol = add(admin, name="carol", password="carol-pw", groups=["devs", "ops"])
    assert (carol["name"], carol["admin"], carol["groups"]) == ("carol", False, ["devs", "ops"])
    assert {"password", "_salt", "_hash"}.isdisjoint(carol) and "carol-pw" not in json.dumps(carol)
    assert {op["rel"] for op in carol["operations"]} == {"edit", "delete"}
    assert names(admin, "?$orderby=name:asc") == ["admin", "alice", "carol"]
    assert names(admin, "?$filter=name='carol'") == ["carol"]
    me = as_(app, "carol")
    assert me.get("/cimi/cloudEntryPoint").status_code == 200                  # the new password signs in
    assert names(me) == ["carol"] and [op["rel"] for op in me.get(carol["id"]).json["operations"]] == ["edit"]
    assert alice.get(carol["id"]).status_code == 404
    assert store.users.groups_of("carol") == ["devs", "ops"]                   # what sharing reads


def test_users_may_not_manage_users(app):
    admin, alice = as_(app, "admin"), as_(app, "alice")
    [mine] = alice.get(users_href(alice)).json["users"]
    assert [op["rel"] for op in mine["operations"]] == ["edit"]                # their password, nothing else
    href = users_href(alice)
    assert alice.post(href, {"name": "mallory", "password": "x", "admin": True}).status_code == 403
    assert alice.put(mine["id"], {"name": "alice", "admin": True}).status_code == 403
    assert alice.put(mine["id"] + "?$select=admin", {"admin": True}).status_code == 403
    assert alice.put(mine["id"] + "?$select=groups,password", {"groups": ["x"], "password": "p"}).status_code == 403
    assert alice.delete(mine["id"]).status_code == 403
    assert names(admin, "?$orderby=name:asc") == ["admin", "alice"]
    assert admin.get(mine["id"]).json["admin"] is False and as_(app, "alice").get("/cimi/").status_code == 200


def test_a_user_changes_their_own_password_and_no_one_elses(app):
    admin, alice = as_(app, "admin"), as_(app, "alice")
    carol = add(admin, name="carol", password="carol-pw")
    [mine] = alice.get(users_href(alice)).json["users"]
    changed = alice.put(mine["id"] + "?$select=password", {"password": "alice-new"})
    assert changed.status_code == 200, changed.text
    assert (changed.json["admin"], changed.json.get("groups", [])) == (False, [])
    assert as_(app, "alice").get("/cimi/").status_code == 401
    alice = as_(app, "alice", "alice-new")
    assert alice.get("/cimi/").status_code == 200
    assert alice.put(carol["id"] + "?$select=password", {"password": "x"}).status_code == 404   # not hers to read
    assert as_(app, "carol").get("/cimi/").status_code == 200


@pytest.mark.parametrize("body", [
    {"name": "dave"},                                        # no password
    {"name": "da:ve", "password": "pw"},                     # ':' ends a Basic user name
    {"name": "da/ve", "password": "pw"},                     # the name of an import directory
    {"name": "../etc", "password": "pw"},
    {"password": "pw"},
    {"name": "dave", "password": "pw", "groups": ["a:b"]},
    {"name": "dave", "password": "pw", "groups": "devs"},
    {"name": "dave", "password": "pw", "admin": "yes please"},
    {"name": "dave", "password": "pw", "colour": "red"},
])
def test_bad_users_are_400_and_nothing_is_made(app, body):
    admin = as_(app, "admin")
    resp = admin.post(users_href(admin), body)
    assert resp.status_code == 400, resp.text
    assert "dave" not in names(admin) and store.users.get("dave") is None


def test_a_name_is_unique_and_never_changes(app):
    admin = as_(app, "admin")
    alice = admin.get(users_href(admin) + "?$filter=name='alice'").json["users"][0]
    assert admin.post(users_href(admin), {"name": "alice", "password": "other"}).status_code == 409
    assert as_(app, "alice").get("/cimi/cloudEntryPoint").status_code == 200       # her password unchanged
    renamed = admin.put(alice["id"], {"name": "alicia"})
    assert renamed.status_code == 400 and "cannot change" in renamed.json["message"]
    assert names(admin, "?$orderby=name:asc") == ["admin", "alice"]


def test_edits_change_password_admin_and_groups_at_once(app):
    admin = as_(app, "admin")
    alice = admin.get(users_href(admin) + "?$filter=name='alice'").json["users"][0]
    assert as_(app, "alice").get("/cimi/cloudEntryPoint").status_code == 200        # cached as signed in
    resp = admin.put(alice["id"] + "?$select=password,groups", {"password": "new-pw", "groups": ["devs"]})
    assert resp.status_code == 200, resp.text
    assert resp.json["groups"] == ["devs"] and "password" not in resp.json and resp.json["admin"] is False
    assert as_(app, "alice").get("/cimi/cloudEntryPoint").status_code == 401        # the old one, at once
    assert as_(app, "alice", "new-pw").get("/cimi/cloudEntryPoint").status_code == 200
    assert store.users.groups_of("alice") == ["devs"]
    assert admin.put(alice["id"] + "?$select=admin", {"admin": True}).json["admin"] is True
    assert as_(app, "alice", "new-pw").get(users_href(admin)).json["count"] == 2   # an admin reads all users
    assert admin.put(alice["id"] + "?$select=groups", {"groups": []}).json.get("groups", []) == []
    assert store.users.groups_of("alice") == []


def test_admins_cannot_delete_or_demote_themselves(app):
    admin = as_(app, "admin")
    me = admin.get(users_href(admin) + "?$filter=name='admin'").json["users"][0]
    assert admin.delete(me["id"]).status_code == 409
    assert admin.put(me["id"] + "?$select=admin", {"admin": False}).status_code == 409
    assert admin.get(me["id"]).json["admin"] is True


def test_deleting_a_user_ends_their_sign_in_and_shares(app):
    admin = as_(app, "admin")
    carol = add(admin, name="carol", password="carol-pw", groups=["solo"])
    assert as_(app, "carol").get("/cimi/cloudEntryPoint").status_code == 200
    templates = admin.cep()["volumeTemplates"]["href"]
    resp = as_(app, "alice").post(templates, {"name": "t", "volumeConfig": {"capacity": 2048},
                                            "acl": {"rules": [{"principal": "user:carol", "right": "VIEW"},
                                                              {"principal": "group:solo", "right": "VIEW"}]}})
    assert resp.status_code == 201, resp.text
    template = resp.headers["Location"]
    assert as_(app, "carol").get(template).status_code == 200
    assert admin.delete(carol["id"]).status_code == 200
    assert admin.get(carol["id"]).status_code == 404
    assert as_(app, "carol").get("/cimi/cloudEntryPoint").status_code == 401        # at once, not in 5 minutes
    assert as_(app, "alice").get(template).json["acl"]["rules"] == []              # her rules and her lone group's
    assert store.users.groups_of("carol") == []


def test_users_validate_as_xml_and_are_edited_in_xml(app):
    admin = as_(app, "admin")
    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    carol = add(admin, name="carol", password="carol-pw", groups=["devs"])
    cep = check(xsd, admin.get("/cimi/cloudEntryPoint", accept=XML), "CloudEntryPoint")
    assert cep.find(f"{{{EXTENSION_NS}}}users") is not None
    coll = check(xsd, admin.get(users_href(admin), accept=XML), "Collection")
    assert len(coll.findall(f"{{{EXTENSION_NS}}}User")) == 3
    raw = admin.get(carol["id"], accept=XML).content
    doc = etree.fromstring(raw)
    assert doc.tag == f"{{{EXTENSION_NS}}}User" and b"password" not in raw and b"_hash" not in raw
    assert [g.text for g in doc.iter(f"{{{CIMI}}}groups")] == ["devs"]
    body = f'<User xmlns="{EXTENSION_NS}"><name>carol</name><admin>true</admin><password>xml-pw</password></User>'
    resp = admin.put(carol["id"], body, fmt="xml")
    assert resp.status_code == 200, resp.text
    assert resp.json["admin"] is True
    assert as_(app, "carol", "xml-pw").get("/cimi/cloudEntryPoint").status_code == 200


def test_a_database_made_before_users_were_resources_keeps_them(tmp_path, database_url, monkeypatch):  # noqa: F811
    """Users and groups written by the schema of migration 12 sign in and keep their groups after migration 13."""
    database = db.open_database(database_url)
    assert migrations.migrate(database, until=12) == 12
    salt = b"\1" * 16
    with database.bind_ctx([OldUser]):
        OldUser.insert(name="olga", salt=salt, hash=auth.accounts.hash_password("olga-pw", salt), admin=True).execute()
        OldUser.insert(name="oleg", salt=salt, hash=auth.accounts.hash_password("oleg-pw", salt)).execute()
    database.execute_sql("INSERT INTO group_member (principal, user_name) VALUES ('group:old', 'oleg')")
    database.close()
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        app = testing.TestClient(create_app(cloud))
        olga = as_(app, "olga")
        assert names(olga, "?$orderby=name:asc") == ["oleg", "olga"]       # no admin made: one existed
        oleg = olga.get(users_href(olga) + "?$filter=name='oleg'").json["users"][0]
        assert (oleg["admin"], oleg["groups"]) == (False, ["old"])
        assert names(as_(app, "oleg")) == ["oleg"]
        assert store.users.groups_of("oleg") == ["old"]
        assert olga.post(users_href(olga), {"name": "oleg", "password": "x"}).status_code == 409
    finally:
        cloud.close()


def test_a_user_who_owns_resources_is_not_deleted(app):
    """A later user given the same name would own them: delete them first; the user's Quota goes with them."""
    admin, alice = as_(app, "admin"), as_(app, "alice")
    me = admin.get(users_href(admin) + "?$filter=name='alice'").json["users"][0]
    assert admin.post(admin.cep()["quotas"]["href"], {"user": "alice", "volumes": 3}).status_code == 201
    made = alice.post(alice.cep()["volumes"]["href"], {"name": "v", "volumeTemplate": {"volumeConfig": {
        "capacity": 1024}}})
    assert made.status_code in (201, 202), made.text
    volume = made.headers["Location"]
    if "CIMI-Job-URI" in made.headers:
        assert alice.wait(made.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    refused = admin.delete(me["id"])
    assert refused.status_code == 409 and "alice still owns volumes" in refused.json["message"], refused.text
    assert alice.get("/cimi/cloudEntryPoint").status_code == 200                 # nothing changed
    assert admin.get(admin.cep()["quotas"]["href"] + "?$filter=user='alice'").json["count"] == 1
    deleted = alice.delete(volume)
    if "CIMI-Job-URI" in deleted.headers:
        assert alice.wait(deleted.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert admin.delete(me["id"]).status_code == 200
    assert admin.get(admin.cep()["quotas"]["href"] + "?$filter=user='alice'").json["count"] == 0


def test_concurrent_adds_of_one_name_make_one_user(app, server):  # noqa: F811
    assert race(server, "admin", "/cimi/users", {"name": "zed", "password": "zed-pw"}) == [201] + [409] * 9
    assert names(as_(app, "admin"), "?$filter=name='zed'") == ["zed"]


def test_a_name_taken_past_the_check_is_a_409_not_a_500(cloud):
    """The unique index on a User's name answers even when a check was bypassed (another front end's insert)."""
    from cimi import errors
    with pytest.raises(errors.Conflict, match="User alice exists already"):
        store.insert("User", {"owner": "alice", "name": "alice", "data": {}})
    assert len(store.rows("User", name="alice")) == 1
