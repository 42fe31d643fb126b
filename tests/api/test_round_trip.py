"""XML in, JSON out (and JSON in, XML out): the same attribute values either way.

Covers every kind a consumer can create, the namespace-less and lowercase
roots plugfest clients send (cimi-reference 10, vectors 13, 47, 48),
whitespace-padded XML text and numbers sent as JSON strings.
"""
import pytest
from lxml import etree

from tests.conftest import XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI
PLURAL = {"componentDescriptor": "componentDescriptors", "disk": "disks", "volume": "volumes",
          "volumeTemplate": "volumeTemplates", "networkInterface": "networkInterfaces"}
KEY_HEX = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRoundTrip rt@x".encode().hex()


@pytest.fixture
def refs(alice):
    cep = alice.cep()
    return {"CFG": alice.get(cep["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"],
            "IMG": alice.get(cep["machineImages"]["href"]).json["machineImages"][0]["id"]}


def xml_to_dict(el):
    """Read a CIMI XML element the way a client would: leaves as text, refs as {href}, properties as a map."""
    out = {}
    for name, value in el.attrib.items():
        out[etree.QName(name).localname] = value
    for child in el:
        local = etree.QName(child).localname
        if local == "operation":
            continue
        if local == "property":
            out.setdefault("properties", {})[child.get("key")] = child.text or ""
            continue
        value = xml_to_dict(child) if (len(child) or child.attrib) else (child.text or "")
        if local in PLURAL:
            out.setdefault(PLURAL[local], []).append(value)
        else:
            out[local] = value
    return out


def assert_same(expected, actual, path="", as_text=False):
    """Every expected attribute has the same value in actual (XML text compares as strings)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}/{key} missing from {actual!r}"
            assert_same(value, actual[key], f"{path}/{key}", as_text)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{path}/{i}", as_text)
    elif as_text:
        text = {True: "true", False: "false"}.get(expected, str(expected)) if isinstance(expected, bool) \
            else str(expected)
        assert actual == text, f"{path}: {actual!r} != {text!r}"
    else:
        assert actual == expected and type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"


def create(client, key, body, fmt):
    resp = client.post(client.cep()[key]["href"], body, fmt=fmt)
    assert resp.status_code in (201, 202), resp.text
    if resp.status_code == 202:
        job = client.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
    return resp.headers["Location"]


# (case, CEP key, XML body, JSON body, what the created resource must show)
def cases(r):
    ns = f' xmlns="{CIMI}"'
    return [
        ("MachineTemplate", "machineTemplates",
         f'<MachineTemplate{ns}><name>t1</name><description>a template</description><property key="tier">web'
         f'</property><initialState>STOPPED</initialState><machineConfig href="{r["CFG"]}"/>'
         f'<machineImage href="{r["IMG"]}"/><userData>aGVsbG8=</userData></MachineTemplate>',
         {"name": "t1", "description": "a template", "properties": {"tier": "web"}, "initialState": "STOPPED",
          "machineConfig": {"href": r["CFG"]}, "machineImage": {"href": r["IMG"]}, "userData": "aGVsbG8="},
         {"name": "t1", "description": "a template", "properties": {"tier": "web"}, "initialState": "STOPPED",
          "machineConfig": {"href": r["CFG"]}, "machineImage": {"href": r["IMG"]}, "userData": "aGVsbG8="}),
        ("MachineTemplate by value", "machineTemplates",
         f'<MachineTemplate{ns}><name>t2</name><machineConfig><cpu>2</cpu><memory>1048576</memory><disk>'
         f'<capacity>1024</capacity><format>ext4</format></disk></machineConfig>'
         f'<machineImage href="{r["IMG"]}"/></MachineTemplate>',
         {"name": "t2", "machineConfig": {"cpu": 2, "memory": 1048576, "disks": [{"capacity": 1024, "format": "ext4"}]},
          "machineImage": {"href": r["IMG"]}},
         {"name": "t2", "machineConfig": {"cpu": 2, "memory": 1048576, "disks": [{"capacity": 1024, "format": "ext4"}]},
          "machineImage": {"href": r["IMG"]}}),
        ("VolumeConfiguration", "volumeConfigs",
         f'<VolumeConfiguration{ns}><name>vc</name><type>{CIMI}/mapped</type><format>ext4</format>'
         f'<capacity>2048</capacity></VolumeConfiguration>',
         {"name": "vc", "type": f"{CIMI}/mapped", "format": "ext4", "capacity": 2048},
         {"name": "vc", "type": f"{CIMI}/mapped", "format": "ext4", "capacity": 2048}),
        ("VolumeTemplate", "volumeTemplates",
         f'<VolumeTemplate{ns}><name>vt</name><volumeConfig><format>ext4</format><capacity>1024</capacity>'
         f'</volumeConfig></VolumeTemplate>',
         {"name": "vt", "volumeConfig": {"format": "ext4", "capacity": 1024}},
         {"name": "vt", "volumeConfig": {"format": "ext4", "capacity": 1024}}),
        ("NetworkConfiguration", "networkConfigs",
         f'<NetworkConfiguration{ns}><name>nc</name><networkType>PRIVATE</networkType><mtu>1400</mtu>'
         f'<classOfService>gold</classOfService></NetworkConfiguration>',
         {"name": "nc", "networkType": "PRIVATE", "mtu": 1400, "classOfService": "gold"},
         {"name": "nc", "networkType": "PRIVATE", "mtu": 1400, "classOfService": "gold"}),
        ("NetworkTemplate", "networkTemplates",
         f'<NetworkTemplate{ns}><name>nt</name><initialState>STOPPED</initialState><networkConfig>'
         f'<networkType>PUBLIC</networkType></networkConfig></NetworkTemplate>',
         {"name": "nt", "initialState": "STOPPED", "networkConfig": {"networkType": "PUBLIC"}},
         {"name": "nt", "initialState": "STOPPED", "networkConfig": {"networkType": "PUBLIC"}}),
        ("SystemTemplate", "systemTemplates",
         f'<SystemTemplate{ns}><name>st</name><componentDescriptor><name>web</name><description>front</description>'
         f'<type>{CIMI}/Machine</type><machineTemplate><machineConfig href="{r["CFG"]}"/>'
         f'<machineImage href="{r["IMG"]}"/></machineTemplate><quantity>2</quantity></componentDescriptor>'
         f'</SystemTemplate>',
         {"name": "st", "componentDescriptors": [{"name": "web", "description": "front", "type": f"{CIMI}/Machine",
                                                  "quantity": 2, "machineTemplate": {
                                                      "machineConfig": {"href": r["CFG"]},
                                                      "machineImage": {"href": r["IMG"]}}}]},
         {"name": "st", "componentDescriptors": [{"name": "web", "description": "front", "type": f"{CIMI}/Machine",
                                                  "quantity": 2, "machineTemplate": {
                                                      "machineConfig": {"href": r["CFG"]},
                                                      "machineImage": {"href": r["IMG"]}}}]}),
        ("Credential", "credentials",
         f'<CredentialCreate{ns}><name>cred</name><credentialTemplate><userName>root</userName>'
         f'<key>{KEY_HEX}</key></credentialTemplate></CredentialCreate>',
         {"resourceURI": f"{CIMI}/CredentialCreate", "name": "cred",
          "credentialTemplate": {"userName": "root", "key": KEY_HEX}},
         {"name": "cred", "userName": "root", "key": KEY_HEX}),
        ("Volume", "volumes",
         f'<VolumeCreate{ns}><name>v1</name><description>data</description><property key="k">v</property>'
         f'<volumeTemplate><volumeConfig><type>{CIMI}/mapped</type><capacity>1048576</capacity></volumeConfig>'
         f'</volumeTemplate></VolumeCreate>',
         {"resourceURI": f"{CIMI}/VolumeCreate", "name": "v1", "description": "data", "properties": {"k": "v"},
          "volumeTemplate": {"volumeConfig": {"type": f"{CIMI}/mapped", "capacity": 1048576}}},
         {"name": "v1", "description": "data", "properties": {"k": "v"}, "type": f"{CIMI}/mapped",
          "capacity": 1048576, "bootable": False, "state": "AVAILABLE"}),
        ("Network", "networks",
         f'<NetworkCreate{ns}><name>n1</name><networkTemplate><initialState>STOPPED</initialState><networkConfig>'
         f'<networkType>PRIVATE</networkType><mtu>1400</mtu></networkConfig></networkTemplate></NetworkCreate>',
         {"resourceURI": f"{CIMI}/NetworkCreate", "name": "n1", "networkTemplate": {
             "initialState": "STOPPED", "networkConfig": {"networkType": "PRIVATE", "mtu": 1400}}},
         {"name": "n1", "networkType": "PRIVATE", "mtu": 1400, "state": "STOPPED"}),
        ("Machine", "machines",
         f'<MachineCreate{ns}><name>m1</name><description>box</description><property key="role">db</property>'
         f'<machineTemplate><initialState>STOPPED</initialState><machineConfig><cpu>2</cpu><memory>262144</memory>'
         f'</machineConfig><machineImage href="{r["IMG"]}"/></machineTemplate></MachineCreate>',
         {"resourceURI": f"{CIMI}/MachineCreate", "name": "m1", "description": "box", "properties": {"role": "db"},
          "machineTemplate": {"initialState": "STOPPED", "machineConfig": {"cpu": 2, "memory": 262144},
                              "machineImage": {"href": r["IMG"]}}},
         {"name": "m1", "description": "box", "properties": {"role": "db"}, "cpu": 2, "memory": 262144,
          "state": "STOPPED"}),
    ]


CASES = [c[0] for c in cases({"CFG": "C", "IMG": "I"})]


@pytest.mark.parametrize("case", CASES)
def test_xml_in_json_out(alice, refs, case):
    _, key, xml_body, _, expected = {c[0]: c for c in cases(refs)}[case]
    location = create(alice, key, xml_body, "xml")
    doc = alice.get(location).json
    assert_same(expected, doc)


@pytest.mark.parametrize("case", CASES)
def test_json_in_xml_out(alice, refs, case):
    _, key, _, json_body, expected = {c[0]: c for c in cases(refs)}[case]
    location = create(alice, key, json_body, "json")
    resp = alice.get(location, accept=XML)
    root = etree.fromstring(resp.content)
    assert root.nsmap.get(None) == CIMI
    assert_same(expected, xml_to_dict(root), as_text=True)


@pytest.mark.parametrize("case", CASES)
def test_xml_and_json_create_the_same_thing(alice, refs, case):
    _, key, xml_body, json_body, _ = {c[0]: c for c in cases(refs)}[case]
    a = alice.get(create(alice, key, xml_body, "xml")).json
    b = alice.get(create(alice, key, json_body, "json")).json
    volatile = {"id", "created", "updated", "operations", "disks", "volumes", "networkInterfaces", "networkPorts",
                "host", "machines", "systems", "credentials", "networks", "eventLog"}   # hrefs with the id in them
    assert {k: v for k, v in a.items() if k not in volatile} == {k: v for k, v in b.items() if k not in volatile}


def test_xml_out_parses_back_to_the_same_resource(alice, refs):
    """GET as XML, PUT that XML back: nothing changes."""
    location = create(alice, "machineTemplates", {"name": "t", "description": "d", "properties": {"a": "b"},
                                                  "machineConfig": {"href": refs["CFG"]},
                                                  "machineImage": {"href": refs["IMG"]}}, "json")
    before = alice.get(location).json
    resp = alice.put(location, alice.get(location, accept=XML).content, fmt="xml")
    assert resp.status_code == 200, resp.text
    after = alice.get(location).json
    assert {k: v for k, v in after.items() if k != "updated"} == {k: v for k, v in before.items() if k != "updated"}


# --- what plugfest clients send -------------------------------------------------------------

@pytest.mark.parametrize("root", ["MachineCreate", "machineCreate"])
def test_machine_create_without_namespace(alice, refs, root):
    """Vector 13."""
    body = (f"<{root}><name> t1 </name><machineTemplate><machineConfig href=\"{refs['CFG']}\"/>"
            f"<machineImage href=\" {refs['IMG']} \"/></machineTemplate></{root}>")
    machine = alice.get(create(alice, "machines", body, "xml")).json
    assert machine["name"] == "t1" and machine["state"] == "STARTED"


@pytest.mark.parametrize("root,xmlns", [("MachineImage", ""), ("MachineImage", f' xmlns="{CIMI}"'),
                                        ("machineImageCreate", ""), ("MachineImageCreate", "")])
def test_capture_with_plugfest_roots_and_padding(alice, root, xmlns):
    """Vectors 47 and 48: lowercase or Create-suffixed roots, no namespace, padded type."""
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    body = (f"<{root}{xmlns}><name> cap1 </name><description>\n  captured\n</description><type> IMAGE </type>"
            f"<imageLocation> {machine['id']} </imageLocation></{root}>")
    image = alice.get(create(alice, "machineImages", body, "xml")).json
    assert image["type"] == "IMAGE" and image["name"] == "cap1" and image["description"] == "captured"
    assert image["state"] == "AVAILABLE" and image["resourceURI"] == f"{CIMI}/MachineImage"


def test_volume_create_with_padded_values(alice):
    """Vector 49."""
    body = (f'<VolumeCreate xmlns="{CIMI}"><name>v1</name><volumeTemplate><volumeConfig>'
            f'<type> {CIMI}/mapped </type><capacity> 1048576 </capacity></volumeConfig></volumeTemplate>'
            f'</VolumeCreate>')
    volume = alice.get(create(alice, "volumes", body, "xml")).json
    assert volume["capacity"] == 1048576 and isinstance(volume["capacity"], int)
    assert volume["type"] == f"{CIMI}/mapped" and volume["bootable"] is False


@pytest.mark.parametrize("root", ["VolumeConfiguration", "VolumeConfigurationCreate", "volumeConfiguration"])
def test_volume_configuration_roots(alice, root):
    """Deltacloud's VolumeConfigurationCreate root appears in the plugfest (cimi-reference 3.7)."""
    body = f"<{root}><name>vc</name><format> ext4 </format><capacity> 4096 </capacity></{root}>"
    config = alice.get(create(alice, "volumeConfigs", body, "xml")).json
    assert config["capacity"] == 4096 and config["format"] == "ext4"


def test_machine_template_create_root(alice, refs):
    """Deltacloud's MachineTemplateCreate wrapper: accepted, not required (cimi-reference 3.2)."""
    body = (f'<MachineTemplateCreate xmlns="{CIMI}"><name>t</name><machineConfig href="{refs["CFG"]}"/>'
            f'<machineImage href="{refs["IMG"]}"/></MachineTemplateCreate>')
    template = alice.get(create(alice, "machineTemplates", body, "xml")).json
    assert template["machineConfig"]["href"] == refs["CFG"]


def test_action_without_namespace(alice):
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.post(machine["id"] + "/stop", "<Action><action> http://schemas.dmtf.org/cimi/1/action/stop "
                                               "</action><force> true </force></Action>", fmt="xml")
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert alice.get(machine["id"]).json["state"] == "STOPPED"


# --- numbers as strings --------------------------------------------------------------------

def test_numbers_as_strings_in_json(alice, refs):
    body = {"resourceURI": f"{CIMI}/MachineCreate", "name": "m",
            "machineTemplate": {"machineConfig": {"cpu": "2", "memory": "262144"}, "machineImage": {"href": refs["IMG"]}}}
    machine = alice.get(create(alice, "machines", body, "json")).json
    assert machine["cpu"] == 2 and machine["memory"] == 262144
    volume = alice.get(create(alice, "volumes", {"volumeTemplate": {"volumeConfig": {"capacity": "1024"}}},
                              "json")).json
    assert volume["capacity"] == 1024
    config = alice.get(create(alice, "volumeConfigs", {"capacity": " 2048 "}, "json")).json
    assert config["capacity"] == 2048
    st = alice.get(create(alice, "systemTemplates", {"componentDescriptors": [
        {"type": f"{CIMI}/Machine", "quantity": "3", "machineTemplate": {"machineConfig": {"href": refs["CFG"]},
                                                                         "machineImage": {"href": refs["IMG"]}}}]},
        "json")).json
    assert st["componentDescriptors"][0]["quantity"] == 3


def test_boolean_as_string_in_json_action(alice):
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.post(machine["id"] + "/stop", {"action": f"{CIMI}/action/stop", "force": "true"})
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


@pytest.mark.parametrize("value", ["1.5", "-3", "1e3", "two", ""])
def test_non_integer_strings_are_refused(alice, value):
    resp = alice.post(alice.cep()["volumes"]["href"], {"volumeTemplate": {"volumeConfig": {"capacity": value}}})
    assert resp.status_code == 400, resp.text


def test_properties_round_trip_with_special_characters(alice, refs):
    props = {"a b": "<x & y>", "quote": 'say "hi"', "unicode": "Grüße 🌍"}
    location = create(alice, "machineTemplates", {"name": "t", "properties": props,
                                                  "machineConfig": {"href": refs["CFG"]},
                                                  "machineImage": {"href": refs["IMG"]}}, "json")
    assert alice.get(location).json["properties"] == props
    root = etree.fromstring(alice.get(location, accept=XML).content)
    assert {p.get("key"): p.text for p in root.findall(NS + "property")} == props
    location = create(alice, "machineTemplates", alice.get(location, accept=XML).content, "xml")
    assert alice.get(location).json["properties"] == props
