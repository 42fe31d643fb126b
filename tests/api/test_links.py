"""Links between resources: who refers to what, 409 on deleting what is still used, cascades, the migration."""
import pytest
from falcon import testing

from cimi import store
from cimi.http.app import create_app
from cimi.store import db, migrations
from cimi.store.migrations.v0001_initial import resource_table
from cimi.vocabulary import type_uri
from tests.api.test_ovf_import import CIMI, counts, import_dir, import_op, ova  # noqa: F401 (fixtures)
from tests.api.test_resources import finish
from tests.api.test_store import database_url, make_cloud  # noqa: F401 (fixture)
from tests.conftest import Client, machine_body


def first(client, key):
    coll = client.get(client.cep()[key]["href"]).json
    return next(v for k, v in coll.items() if isinstance(v, list) and k != "operations")[0]


def template_body(client, **more):
    return {"name": "uses-it", "machineConfig": {"href": first(client, "machineConfigs")["id"]},
            "machineImage": {"href": first(client, "machineImages")["id"]}, **more}


def test_an_image_templates_use_is_409_naming_them_until_they_go(tmp_path, database_url, monkeypatch):  # noqa: F811
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        app = testing.TestClient(create_app(cloud))
        admin = Client(app, "admin", "admin-pw")
        _, template = admin.create("machineTemplates", template_body(admin))
        image = template["machineImage"]["href"]
        refused = admin.delete(image)
        assert refused.status_code == 409, refused.text
        assert template["id"] in refused.json["message"] and "uses-it" in refused.json["message"]
        assert admin.get(image).status_code == 200 and admin.get(template["id"]).status_code == 200
        assert admin.get(template["id"]).json["machineImage"]["href"] == image
        assert admin.delete(template["id"]).status_code == 200
        finish(admin, admin.delete(image))
        assert admin.get(image).status_code == 404
    finally:
        cloud.close()


def test_a_configuration_credential_or_network_a_template_uses_is_409(admin, alice):
    _, credential = alice.create("credentials", {"credentialTemplate": {"userName": "u", "password": "p"}})
    _, network = alice.create("networks", {"networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}})
    _, template = alice.create("machineTemplates", template_body(
        alice, credential={"href": credential["id"]}, networkInterfaces=[{"network": {"href": network["id"]}}]))
    for client, href in ((admin, template["machineConfig"]["href"]), (alice, credential["id"]), (alice, network["id"])):
        refused = client.delete(href)
        assert refused.status_code == 409 and template["id"] in refused.json["message"], refused.text
        assert client.get(href).status_code == 200
    assert alice.delete(template["id"]).status_code == 200
    assert alice.delete(credential["id"]).status_code == 200
    finish(alice, alice.delete(network["id"]))
    assert alice.get(network["id"]).status_code == 404


def test_a_template_changed_to_another_credential_frees_the_first(alice):
    _, first_credential = alice.create("credentials", {"credentialTemplate": {"userName": "a", "password": "p"}})
    _, second = alice.create("credentials", {"credentialTemplate": {"userName": "b", "password": "p"}})
    _, template = alice.create("machineTemplates", template_body(alice, credential={"href": first_credential["id"]}))
    assert alice.delete(first_credential["id"]).status_code == 409
    edited = alice.put(template["id"] + "?$select=credential", {"credential": {"href": second["id"]}})
    assert edited.status_code == 200, edited.text
    assert alice.delete(first_credential["id"]).status_code == 200
    refused = alice.delete(second["id"])
    assert refused.status_code == 409 and template["id"] in refused.json["message"]


def test_a_machine_deleted_alone_leaves_its_system(tmp_path, database_url, monkeypatch):  # noqa: F811
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        admin = Client(testing.TestClient(create_app(cloud)), "admin", "admin-pw")
        a_machine_deleted_alone_leaves_its_system(admin)
    finally:
        cloud.close()


def a_machine_deleted_alone_leaves_its_system(alice):
    _, system_template = alice.create("systemTemplates", {"name": "pair", "componentDescriptors": [
        {"type": type_uri("Machine"), "machineTemplate": machine_body(alice)["machineTemplate"]}]})
    _, system = alice.create("systems", {"name": "sys", "systemTemplate": {"href": system_template["id"]}})
    members = alice.get(system["machines"]["href"]).json
    assert members["count"] == 1
    machine = members["systemMachines"][0]["machine"]["href"]
    finish(alice, alice.delete(machine))
    assert alice.get(system["machines"]["href"]).json["count"] == 0     # its SystemMachine entry went with it
    finish(alice, alice.delete(system["id"]))
    assert alice.get(system["id"]).status_code == 404


def test_rows_removed_with_what_they_cascade_from(tmp_path, database_url, monkeypatch):  # noqa: F811
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        rows_removed_with_what_they_cascade_from()
    finally:
        cloud.close()


def rows_removed_with_what_they_cascade_from():
    machine = store.insert("Machine", {"state": "STOPPED", "data": {}})
    address = store.insert("Address", {"data": {"ip": "10.0.0.9", "_machine": machine["id"], "_network": "n1"}})
    assert [(r.kind, r.id, r.role) for r in store.referrers("Machine", machine["id"])] == \
        [("Address", address["id"], "_machine")]
    store.delete("Machine", machine["id"])
    assert store.find("Address", address["id"]) is None
    assert store.referrers("Network", "n1") == []


def test_a_database_made_before_links_gets_them(tmp_path, database_url, monkeypatch):  # noqa: F811
    """Rows written by the schema of migration 5 are linked by migration 6, and guarded at once."""
    database = db.open_database(database_url)
    assert migrations.migrate(database, until=5) == 5
    base = "http://old.example/cimi/"
    old = {table: resource_table(table) for table in ("machine_image", "machine_configuration", "machine_template")}
    with database.bind_ctx(list(old.values())):
        old["machine_image"].insert(id="img1", name="old image", state="AVAILABLE",
                                    data='{"type": "IMAGE", "_key": "k"}').execute()
        old["machine_configuration"].insert(id="cfg1", name="old config", data='{"cpu": 1, "memory": 1024}').execute()
        old["machine_template"].insert(id="tpl1", name="old template", data=(
            f'{{"machineImage": {{"href": "{base}machineImages/img1"}}, '
            f'"machineConfig": {{"href": "{base}machineConfigs/cfg1"}}}}')).execute()
    database.close()
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        assert [(r.kind, r.id, r.role) for r in store.referrers("MachineImage", "img1")] == \
            [("MachineTemplate", "tpl1", "machineImage")]
        admin = Client(testing.TestClient(create_app(cloud)), "admin", "admin-pw")
        image = admin.cep()["machineImages"]["href"] + "/img1"
        refused = admin.delete(image)
        assert refused.status_code == 409 and "tpl1" in refused.json["message"], refused.text
        assert admin.delete(admin.cep()["machineConfigs"]["href"] + "/cfg1").status_code == 409
        assert admin.delete(admin.cep()["machineTemplates"]["href"] + "/tpl1").status_code == 200
        assert store.referrers("MachineImage", "img1") == []
    finally:
        cloud.close()


@pytest.mark.parametrize("kind_name", ["MachineTemplate", "SystemTemplate"])
def test_every_href_a_client_writes_is_a_blocking_link(cloud, kind_name):
    from cimi.store import links
    roles = {link.role: link.on_delete for link in links.declared(kind_name)}
    assert roles and all(on_delete == links.BLOCK for role, on_delete in roles.items()
                         if "relatedImage" not in role and not role.startswith("_"))      # internal keys say their own


def imported(alice, ova):
    resp = alice.post(import_op(alice), {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/import",
                                         "source": f"file://{ova}"})
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    return alice.get(resp.headers["Location"]).json


def test_an_imported_system_template_takes_what_its_import_made_with_it(alice, ova):
    before = counts(alice)
    networks = alice.get(alice.cep()["networks"]["href"]).json["count"]
    template = imported(alice, ova)
    assert counts(alice) != before
    machine_template = template["componentDescriptors"][0]["machineTemplate"]["href"]
    refused = alice.delete(machine_template)                 # the SystemTemplate uses it
    assert refused.status_code == 409 and template["id"] in refused.json["message"]
    finish(alice, alice.delete(template["id"]))
    assert counts(alice) == before
    assert alice.get(alice.cep()["networks"]["href"]).json["count"] == networks


def test_what_an_import_made_and_a_machine_uses_stays(alice, ova):
    template = imported(alice, ova)
    machine_template = alice.get(template["componentDescriptors"][0]["machineTemplate"]["href"]).json
    _, machine = alice.create("machines", {"name": "keeps-the-image", "machineTemplate": {
        "machineConfig": machine_template["machineConfig"], "machineImage": machine_template["machineImage"]}})
    finish(alice, alice.delete(template["id"]))
    assert alice.get(template["id"]).status_code == 404
    assert alice.get(machine_template["id"]).status_code == 404
    assert alice.get(machine_template["machineImage"]["href"]).json["state"] == "AVAILABLE"
    finish(alice, alice.delete(machine["id"]))
    finish(alice, alice.delete(machine_template["machineImage"]["href"]))
