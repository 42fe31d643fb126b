"""Hostile input over the API (issue 6): a table of attacks, each refused with a 4xx and no effect.

For every case:

* the answer has the expected 4xx status and is a CIMI Job-shaped error
  document (state FAILED, a statusMessage) in the negotiated format;
* no Location or CIMI-Job-URI is given out;
* the store is unchanged: the count of every CEP collection (Jobs included,
  read by the administrator, who sees everything), and the ETag, name, state
  and `updated` of a watched set of resources (alice's and bob's Volumes and
  Machines, a MachineConfiguration, the seeded image), and libvirt's domains;
* the server still answers normal GETs afterwards, in JSON and in XML.

Most cases go through falcon's TestClient. Body size, chunked bodies, HTTP
methods and raw header bytes also go over real HTTP to waitress on 127.0.0.1
(`live`). A few answers come from waitress itself, before the app sees the
request (an unparsable request line or Content-Length); those must be a 4xx
and leave the server answering, but cannot be CIMI documents.

What tests/api/test_status_codes.py already covers (simple malformed bodies,
the 413 with Content-Length through the TestClient, 401/406/415, plain
$filter syntax errors) is not repeated here.
"""
import base64
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import waitress
from lxml import etree

from cimi.http.app import create_app
from tests.conftest import JSON, XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI
MIB = 1024 * 1024
VOLUME = {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {"volumeConfig": {"capacity": 1024}}}
VOLUME_XML = (f'<VolumeCreate xmlns="{CIMI}"><name>{{name}}</name><volumeTemplate><volumeConfig>'
              '<capacity>1024</capacity></volumeConfig></volumeTemplate></VolumeCreate>')


# --- the world every case runs against, and its fingerprint ------------------------------------------

@dataclass
class World:
    refs: dict                 # placeholders for paths and bodies: {alice_volume}, {config}, ...
    watched: dict              # name -> href of resources whose ETag must not move


@pytest.fixture
def world(admin, alice, bob):
    cep = alice.cep()
    _, a_vol = alice.create("volumes", VOLUME)
    _, b_vol = bob.create("volumes", VOLUME)
    _, a_machine = alice.create("machines", machine_body(alice, "am", initialState="STOPPED"))
    _, b_machine = bob.create("machines", machine_body(bob, "bm", initialState="STOPPED"))
    config = admin.get(cep["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"]
    image = admin.get(cep["machineImages"]["href"]).json["machineImages"][0]["id"]
    ids = {"alice_volume": a_vol["id"], "bob_volume": b_vol["id"], "alice_machine": a_machine["id"],
           "bob_machine": b_machine["id"], "config": config, "image": image}
    refs = dict(ids)
    for name, href in ids.items():
        refs[name + "_path"] = href[href.index("/cimi/"):]
        refs[name + "_id"] = href.rsplit("/", 1)[1]
    refs.update({key: cep[key]["href"][cep[key]["href"].index("/cimi/"):]
                 for key in ("volumes", "machines", "machineImages", "machineConfigs")})
    return World(refs, ids)


def snapshot(admin, world, libvirt_conn):
    out = {}
    for key, value in admin.cep().items():
        if isinstance(value, dict) and "href" in value:
            resp = admin.get(value["href"])
            assert resp.status_code == 200, (key, resp.status_code, resp.text[:300])
            out[key] = resp.json["count"]
    for name, href in world.watched.items():
        resp = admin.get(href)
        doc = resp.json if resp.status_code == 200 else {}
        out[name] = (resp.status_code, resp.headers.get("ETag"), doc.get("name"), doc.get("state"),
                     doc.get("updated"), json.dumps(doc.get("properties"), sort_keys=True))
    out["libvirt domains"] = sorted(d.name() for d in libvirt_conn.listAllDomains())
    return out


def assert_answering(admin, alice, world):
    """Normal reads still work, in both formats (a poisoned row would break the XML ones)."""
    assert alice.get("/cimi/cloudEntryPoint").status_code == 200
    for accept in (JSON, XML):
        for client, href in ((alice, world.refs["volumes"]), (alice, world.refs["alice_volume"]),
                             (admin, world.refs["volumes"]), (admin, world.refs["machines"])):
            resp = client.get(href, accept=accept)
            assert resp.status_code == 200, (href, accept, resp.status_code, resp.text[:300])
            if accept == XML:
                etree.fromstring(resp.content)


def assert_error(resp, status, fmt="json"):
    """A Job-shaped CIMI error of this status (or one of these) in this format."""
    allowed = status if isinstance(status, (tuple, set, frozenset)) else (status,)
    assert resp.status_code in allowed, (resp.status_code, resp.text[:500])
    assert 400 <= resp.status_code < 500
    media = resp.headers.get("Content-Type", "").split(";")[0]
    if fmt == "json":
        assert media == JSON, media
        doc = json.loads(resp.content)
        assert doc["resourceURI"] == f"{CIMI}/Job"
        assert doc["state"] == "FAILED" and doc["statusMessage"].strip()
        assert doc.get("returnCode", resp.status_code) == resp.status_code
    else:
        assert media == XML, media
        root = etree.fromstring(resp.content)
        assert root.tag == NS + "Job"
        assert root.findtext(NS + "state") == "FAILED" and root.findtext(NS + "statusMessage").strip()
    assert "Location" not in resp.headers and "CIMI-Job-URI" not in resp.headers


# --- the cases ------------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    method: str
    path: str                          # formatted with World.refs
    body: object = None                # str, bytes, dict/list (sent as JSON), or fn(refs) -> one of those
    status: object = 400               # an int or a tuple of acceptable ints
    who: str = "alice"
    content_type: str = JSON
    accept: str = JSON
    headers: dict = field(default_factory=dict)


def nested(depth, open_="[", close="]", inner=""):
    return open_ * depth + inner + close * depth


def volume_with(**attrs):
    """A valid VolumeCreate but for the given attributes (raw JSON text values)."""
    parts = [f'"{k}": {v}' for k, v in attrs.items()]
    return '{"volumeTemplate": {"volumeConfig": {"capacity": 1024}}, ' + ", ".join(parts) + "}"


def xml_volume(name="x", prolog=""):
    return prolog + VOLUME_XML.format(name=name)


def in_encoding(text, encoding):
    declared = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    return declared.encode(encoding)


XXE = '<?xml version="1.0"?><!DOCTYPE VolumeCreate [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE VolumeCreate [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(9)) + "]>")
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE VolumeCreate [<!ENTITY % p SYSTEM '
                    '"http://127.0.0.1:9/evil.dtd"> %p;]>')
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE VolumeCreate SYSTEM "file:///etc/passwd">'
REMOTE_DTD = '<?xml version="1.0"?><!DOCTYPE VolumeCreate PUBLIC "-//x//y" "http://127.0.0.1:9/evil.dtd">'


def machine_with_config_href(href):
    def build(refs):
        body = {"resourceURI": f"{CIMI}/MachineCreate", "name": "h",
                "machineTemplate": {"machineConfig": {"href": href.format(**refs)},
                                    "machineImage": {"href": refs["image"]}}}
        return body
    return build


def foreign(host_prefix, key):
    """An href naming one of our resources, but on another host or scheme."""
    return lambda refs: refs[key].replace(refs[key][:refs[key].index("/cimi/")], host_prefix)


def image_at(location, **extra):
    return lambda refs: {"name": "img", "type": "IMAGE",
                         "imageLocation": location(refs) if callable(location) else location.format(**refs),
                         **extra}


MALFORMED = [
    Case("json truncated in a number", "POST", "{volumes}", '{"volumeTemplate": {"volumeConfig": {"capacity": 10'),
    Case("json truncated after a key", "POST", "{volumes}", '{"name"'),
    Case("json single brace", "POST", "{volumes}", "{"),
    Case("json single quotes", "POST", "{volumes}", "{'name': 'x'}"),
    Case("json trailing comma", "POST", "{volumes}", volume_with(name='"x"')[:-1] + ",}"),
    Case("json comment", "POST", "{volumes}", volume_with(name='"x" /* hi */')),
    Case("json null", "POST", "{volumes}", "null"),
    Case("json number", "POST", "{volumes}", "1e999"),
    Case("json NUL bytes", "POST", "{volumes}", b"\x00\x00\x00\x00"),
    Case("json only whitespace", "POST", "{volumes}", " \r\n\t "),
    Case("json two documents", "POST", "{volumes}", json.dumps(VOLUME) + json.dumps(VOLUME)),
    Case("json with a BOM", "POST", "{volumes}", b"\xef\xbb\xbf" + json.dumps(VOLUME).encode()),
    Case("json labelled as XML", "POST", "{volumes}", json.dumps(VOLUME), content_type=XML),
    Case("xml labelled as JSON", "POST", "{volumes}", xml_volume()),
    Case("xml truncated", "POST", "{volumes}", xml_volume()[:60], content_type=XML),
    Case("xml truncated, XML answer", "POST", "{volumes}", xml_volume()[:60], content_type=XML, accept=XML),
    Case("xml mismatched tags", "POST", "{volumes}", f'<VolumeCreate xmlns="{CIMI}"><name>x</nom></VolumeCreate>',
         content_type=XML),
    Case("xml two roots", "POST", "{volumes}", xml_volume() + xml_volume(), content_type=XML),
    Case("xml text only", "POST", "{volumes}", "hello", content_type=XML),
    Case("xml lone angle", "POST", "{volumes}", "<", content_type=XML),
    Case("xml root of another namespace", "POST", "{volumes}", '<VolumeCreate xmlns="urn:evil"/>', content_type=XML),
    Case("xml unknown root", "POST", "{volumes}", f'<Evil xmlns="{CIMI}"/>', content_type=XML),
    Case("put truncated json", "PUT", "{alice_volume_path}", '{"name": "x'),
    Case("put truncated xml", "PUT", "{alice_volume_path}", f'<Volume xmlns="{CIMI}"><name>x</na',
         content_type=XML),
    Case("action truncated json", "POST", "{alice_machine_path}/start", '{"action": "'),
]

HUGE = [
    Case("1 MiB + 1 of whitespace", "POST", "{volumes}", b" " * (MIB + 1), status=413),
    Case("8 MiB of [ (size before parsing)", "POST", "{volumes}", b"[" * (8 * MIB), status=413),
    Case("8 MiB XML, XML answer", "POST", "{volumes}", xml_volume("n" * (8 * MIB)), status=413,
         content_type=XML, accept=XML),
    Case("2 MiB PUT", "PUT", "{alice_volume_path}", json.dumps({"name": "x" * (2 * MIB)}), status=413),
    Case("2 MiB action body", "POST", "{alice_machine_path}/start",
         json.dumps({"action": f"{CIMI}/action/start", "name": "x" * (2 * MIB)}), status=413),
    Case("Content-Length over the limit, short body", "POST", "{volumes}", json.dumps(VOLUME), status=413,
         headers={"Content-Length": str(MIB + 1)}),
]

XML_ATTACKS = [
    Case("XXE to /etc/passwd", "POST", "{volumes}", xml_volume("&x;", XXE), content_type=XML),
    Case("XXE to /etc/passwd, XML answer", "POST", "{volumes}", xml_volume("&x;", XXE), content_type=XML,
         accept=XML),
    Case("XXE in a PUT", "PUT", "{alice_volume_path}",
         XXE.replace("VolumeCreate", "Volume") + f'<Volume xmlns="{CIMI}"><name>&x;</name></Volume>',
         content_type=XML),
    Case("XXE, UTF-16 body", "POST", "{volumes}", in_encoding(xml_volume("&x;", XXE), "UTF-16"),
         content_type=XML),
    Case("XXE, UTF-32 body", "POST", "{volumes}", in_encoding(xml_volume("&x;", XXE), "UTF-32"),
         content_type=XML),
    Case("billion laughs", "POST", "{volumes}", xml_volume("&j;", LAUGHS), content_type=XML),
    Case("billion laughs, UTF-16 body", "POST", "{volumes}", in_encoding(xml_volume("&j;", LAUGHS), "UTF-16"),
         content_type=XML),
    Case("parameter entity to the network", "POST", "{volumes}", xml_volume("x", PARAMETER_ENTITY),
         content_type=XML),
    Case("external DTD file", "POST", "{volumes}", xml_volume("x", EXTERNAL_DTD), content_type=XML),
    Case("external DTD on the network", "POST", "{volumes}", xml_volume("x", REMOTE_DTD), content_type=XML),
    Case("external DTD, UTF-16 body", "POST", "{volumes}", in_encoding(xml_volume("x", REMOTE_DTD), "UTF-16"),
         content_type=XML),
    Case("bare DOCTYPE", "POST", "{volumes}", xml_volume("x", "<!DOCTYPE VolumeCreate>"), content_type=XML),
    Case("internal entity", "POST", "{volumes}",
         xml_volume("&e;", '<?xml version="1.0"?><!DOCTYPE VolumeCreate [<!ENTITY e "boo">]>'), content_type=XML),
]

DEEP = [
    Case("json 100,000 nested arrays", "POST", "{volumes}", nested(100_000)),
    Case("json 100,000 nested objects", "POST", "{volumes}", nested(100_000, '{"a":', "}", "1")),
    Case("json 100,000 unclosed arrays", "POST", "{volumes}", "[" * 100_000),
    Case("json 900 nested arrays in name", "POST", "{volumes}", volume_with(name=nested(900))),
    Case("json 900 nested arrays in a property", "POST", "{volumes}",
         volume_with(properties='{"k": ' + nested(900) + "}")),
    Case("json 900 nested objects in volumeConfig", "POST", "{volumes}",
         '{"volumeTemplate": {"volumeConfig": ' + nested(900, '{"a":', "}", "1") + "}}"),
    Case("json 900 nested arrays in a PUT", "PUT", "{alice_volume_path}", '{"name": ' + nested(900) + "}"),
    Case("json 900 nested arrays in an action", "POST", "{alice_machine_path}/start",
         '{"action": ' + nested(900) + "}"),
    Case("xml 100,000 levels", "POST", "{volumes}",
         f'<VolumeCreate xmlns="{CIMI}">' + nested(100_000, "<a>", "</a>") + "</VolumeCreate>", content_type=XML),
    Case("xml 40 levels (over the cap of 32)", "POST", "{volumes}",
         xml_volume(nested(40, "<a>", "</a>")), content_type=XML),
    Case("xml 40 levels, XML answer", "POST", "{volumes}",
         xml_volume(nested(40, "<a>", "</a>")), content_type=XML, accept=XML),
]

ENCODING = [
    Case("json invalid UTF-8 byte", "POST", "{volumes}", volume_with(name='"x"').encode().replace(b"x", b"\xff")),
    Case("json overlong UTF-8 slash", "POST", "{volumes}", volume_with(name='"x"').encode().replace(b"x", b"\xc0\xaf")),
    Case("json UTF-8-encoded surrogate", "POST", "{volumes}",
         volume_with(name='"x"').encode().replace(b'"x"', b'"\xed\xa0\x80"')),
    Case("json truncated multibyte", "POST", "{volumes}", volume_with(name='"x"').encode().replace(b'x"', b'\xe2\x82"')),
    Case("json UTF-16 body", "POST", "{volumes}", json.dumps(VOLUME).encode("utf-16")),
    Case("json latin-1 bytes", "POST", "{volumes}", volume_with(name='"caf\u00e9"').encode("latin-1")),
    Case("json escaped lone surrogate in name", "POST", "{volumes}", volume_with(name='"\\ud800"')),
    Case("json escaped lone surrogate in a property", "POST", "{volumes}", volume_with(properties='{"k": "\\udfff"}')),
    Case("json escaped NUL in name", "POST", "{volumes}", volume_with(name='"a\\u0000b"')),
    Case("json control character in description", "POST", "{volumes}", volume_with(description='"a\\u0001b"')),
    Case("json escaped NUL in a PUT", "PUT", "{alice_volume_path}", '{"name": "a\\u0000b"}'),
    Case("xml invalid UTF-8 byte", "POST", "{volumes}", xml_volume("x").encode().replace(b"<name>x", b"<name>\xff"),
         content_type=XML),
    Case("xml latin-1 bytes declared UTF-8", "POST", "{volumes}",
         xml_volume("caf\u00e9", '<?xml version="1.0" encoding="UTF-8"?>').encode("latin-1"), content_type=XML),
    Case("xml NUL character reference", "POST", "{volumes}", xml_volume("&#0;"), content_type=XML),
    Case("xml surrogate character reference", "POST", "{volumes}", xml_volume("&#xD800;"), content_type=XML),
    Case("xml raw control byte", "POST", "{volumes}", xml_volume("a\x01b"), content_type=XML),
]

TYPES = [
    Case("config cpu not digits", "POST", "{machineConfigs}", {"name": "c", "cpu": "2x", "memory": 1024}, who="admin"),
    Case("config cpu blank", "POST", "{machineConfigs}", {"name": "c", "cpu": "  ", "memory": 1024}, who="admin"),
    Case("config cpu object", "POST", "{machineConfigs}", {"name": "c", "cpu": {"n": 2}, "memory": 1024},
         who="admin"),
    Case("config cpu array", "POST", "{machineConfigs}", {"name": "c", "cpu": [2], "memory": 1024}, who="admin"),
    Case("config cpu null", "POST", "{machineConfigs}", {"name": "c", "cpu": None, "memory": 1024}, who="admin"),
    Case("config cpu boolean", "POST", "{machineConfigs}", {"name": "c", "cpu": True, "memory": 1024}, who="admin"),
    Case("config cpu fraction", "POST", "{machineConfigs}", {"name": "c", "cpu": 1.5, "memory": 1024}, who="admin"),
    Case("config cpu NaN", "POST", "{machineConfigs}", '{"name": "c", "cpu": NaN, "memory": 1024}', who="admin"),
    Case("config cpu 5000 digits", "POST", "{machineConfigs}", '{"name": "c", "cpu": 1' + "0" * 5000
         + ', "memory": 1024}', who="admin"),
    Case("config memory text", "POST", "{machineConfigs}", {"name": "c", "cpu": 1, "memory": "lots"}, who="admin"),
    Case("config name object", "POST", "{machineConfigs}", {"name": {"a": 1}, "cpu": 1, "memory": 1}, who="admin"),
    Case("config name null", "POST", "{machineConfigs}", {"name": None, "cpu": 1, "memory": 1}, who="admin"),
    Case("config disks object", "POST", "{machineConfigs}", {"name": "c", "cpu": 1, "memory": 1,
                                                            "disks": {"capacity": 1}}, who="admin"),
    Case("config disks of arrays", "POST", "{machineConfigs}", {"name": "c", "cpu": 1, "memory": 1,
                                                               "disks": [[1]]}, who="admin"),
    Case("config disks of strings", "POST", "{machineConfigs}", {"name": "c", "cpu": 1, "memory": 1,
                                                                "disks": ["x"]}, who="admin"),
    Case("volumeTemplate array", "POST", "{volumes}", {"volumeTemplate": [{"volumeConfig": {"capacity": 1}}]}),
    Case("volumeTemplate string", "POST", "{volumes}", {"volumeTemplate": "big"}),
    Case("volumeTemplate null", "POST", "{volumes}", {"volumeTemplate": None}),
    Case("capacity object", "POST", "{volumes}", {"volumeTemplate": {"volumeConfig": {"capacity": {"n": 1}}}}),
    Case("description array", "POST", "{volumes}", {**VOLUME, "description": ["a"]}),
    Case("machineTemplate array", "POST", "{machines}", {"machineTemplate": []}),
    Case("put name object", "PUT", "{alice_volume_path}", {"name": {"a": 1}}),
    Case("put name null", "PUT", "{alice_volume_path}", {"name": None}),
    Case("put properties array", "PUT", "{alice_volume_path}", {"properties": ["a"]}),
    Case("put property value object", "PUT", "{alice_volume_path}", {"properties": {"a": {"b": "c"}}}),
    Case("put body array", "PUT", "{alice_volume_path}", '[{"name": "x"}]'),
    Case("put body string", "PUT", "{alice_volume_path}", '"x"'),
    Case("action body array", "POST", "{alice_machine_path}/start", "[]"),
    Case("action name object", "POST", "{alice_machine_path}/start", {"action": {"href": "start"}}),
]

UNKNOWN = [
    Case("unknown attribute on a Volume", "POST", "{volumes}", {**VOLUME, "bogus": 1}),
    Case("unknown nested attribute on a Volume", "POST", "{volumes}",
         {"volumeTemplate": {"volumeConfig": {"capacity": 1024, "evil": True}}}),
    Case("unknown attribute on a configuration", "POST", "{machineConfigs}",
         {"name": "c", "cpu": 1, "memory": 1, "owner": "bob"}, who="admin"),
    Case("unknown attribute in a PUT", "PUT", "{alice_volume_path}", {"name": "x", "bogus": 1}),
    Case("unknown XML element in a PUT", "PUT", "{alice_volume_path}",
         f'<Volume xmlns="{CIMI}"><name>x</name><bogus>1</bogus></Volume>', content_type=XML),
    Case("provider column smuggled in a PUT", "PUT", "{alice_volume_path}", {"name": "x", "_key": "/etc/passwd"}),
    Case("unknown resourceURI", "POST", "{volumes}", {**VOLUME, "resourceURI": f"{CIMI}/Nonsense"}),
    Case("empty resourceURI", "POST", "{volumes}", {**VOLUME, "resourceURI": ""}),
    Case("resourceURI of another schema", "POST", "{volumes}",
         {**VOLUME, "resourceURI": "http://evil.example.com/cimi/1/VolumeCreate"}),
    Case("resourceURI javascript:", "POST", "{volumes}", {**VOLUME, "resourceURI": "javascript:alert(1)"}),
    Case("resourceURI number", "POST", "{volumes}", {**VOLUME, "resourceURI": 7}),
    Case("resourceURI object", "POST", "{volumes}", {**VOLUME, "resourceURI": {"href": f"{CIMI}/VolumeCreate"}}),
    Case("unknown resourceURI in a PUT", "PUT", "{alice_volume_path}",
         {"resourceURI": f"{CIMI}/Nonsense", "name": "renamed"}),
    Case("unknown resourceURI in an action", "POST", "{alice_machine_path}/start",
         {"resourceURI": f"{CIMI}/Nonsense", "action": f"{CIMI}/action/start"}),
]

FILTERS = [
    Case("filter SQL comment", "GET", "{volumes}?$filter=name='x' or 1=1 --"),
    Case("filter stacked statement", "GET", "{volumes}?$filter=name='x'; DROP TABLE volume"),
    Case("filter quote breakout", "GET", "{volumes}?$filter=name=x' OR '1'='1"),
    Case("filter unterminated quote", "GET", "{volumes}?$filter=name='''"),
    Case("filter bare SQL", "GET", "{volumes}?$filter=1=1) UNION SELECT * FROM user --"),
    Case("filter NUL", "GET", "{volumes}?$filter=name='%00'"),
    Case("filter NUL in the attribute", "GET", "{volumes}?$filter=na%00me='a'"),
    Case("filter 100,000 characters", "GET", "{volumes}?$filter=name='" + "a" * 100_000 + "'"),
    Case("filter 100,000 open parentheses", "GET", "{volumes}?$filter=" + "(" * 100_000),
    Case("filter 2,000 balanced parentheses", "GET", "{volumes}?$filter=" + "(" * 2000 + "name='a'" + ")" * 2000),
    Case("filter 2,000 nots", "GET", "{volumes}?$filter=" + "not " * 2000 + "name='a'"),
    Case("filter unbalanced open", "GET", "{volumes}?$filter=((name='a')"),
    Case("filter unbalanced close", "GET", "{volumes}?$filter=name='a'))"),
    Case("filter 1,000 ors", "GET", "{volumes}?$filter=" + " or ".join(["name='a'"] * 1000)),
    Case("filter property injection", "GET", "{volumes}?$filter=property['a'' or 1=1 --']='b'"),
    Case("filter on a secret column", "GET", "{volumes}?$filter=owner='bob'"),
    Case("filter on an internal attribute", "GET", "{volumes}?$filter=_key!='x'"),
    Case("filter, XML answer", "GET", "{volumes}?$filter=name='x' or 1=1 --", accept=XML),
    Case("orderby injection", "GET", "{volumes}?$orderby=name;DROP TABLE volume"),
    Case("orderby 2,001 keys", "GET", "{volumes}?$orderby=" + ",".join(["name"] * 2001)),
    Case("orderby 100,000 characters", "GET", "{volumes}?$orderby=" + "x" * 100_000),
    Case("first huge", "GET", "{volumes}?$first=-99999999999999999999"),
]

IDS = [
    Case("encoded traversal", "GET", "/cimi/volumes/..%2F..%2F..%2Fetc%2Fpasswd", status=404),
    Case("encoded dots and slashes", "GET", "/cimi/volumes/%2e%2e%2f%2e%2e%2fetc%2fpasswd", status=404),
    Case("backslash traversal", "GET", "/cimi/volumes/..%5c..%5cetc%5cpasswd", status=404),
    Case("dot-dot id", "GET", "/cimi/volumes/..", status=404),
    Case("traversal to bob's volume", "GET", "/cimi/volumes/{alice_volume_id}%2F..%2F{bob_volume_id}",
         status=(404, 405)),
    Case("traversal edit of bob's volume", "PUT", "/cimi/volumes/{alice_volume_id}%2F..%2F..%2Fvolumes%2F"
         "{bob_volume_id}", {"name": "pwned"}, status=(404, 405)),
    Case("traversal delete of bob's volume", "DELETE", "/cimi/volumes/..%2F{bob_volume_id}", status=(404, 405)),
    Case("delete through another collection", "DELETE", "/cimi/machineConfigs/{bob_volume_id}", status=404),
    Case("100,000 character id", "GET", "/cimi/volumes/" + "a" * 100_000, status=404),
    Case("100,000 character id, delete", "DELETE", "/cimi/volumes/" + "a" * 100_000, status=404),
    Case("unicode id", "GET", "/cimi/volumes/\u00e9\u4e2d\U0001f600", status=404),
    Case("right-to-left override id", "GET", "/cimi/volumes/%E2%80%AEexe.txt", status=404),
    Case("NUL id", "GET", "/cimi/volumes/%00", status=404),
    Case("NUL id, XML answer", "GET", "/cimi/volumes/%00", status=404, accept=XML),
    Case("control character id, XML answer", "GET", "/cimi/volumes/%01%1b", status=404, accept=XML),
    Case("invalid UTF-8 id, XML answer", "GET", "/cimi/volumes/%ff%fe", status=404, accept=XML),
    Case("SQL in the id", "GET", "/cimi/volumes/x' OR '1'='1", status=404),
    Case("SQL in the id, delete", "DELETE", "/cimi/volumes/x' OR '1'='1", status=404),
    Case("LIKE wildcard id", "DELETE", "/cimi/volumes/%25", status=404),
    Case("unknown collection with traversal", "GET", "/cimi/..%2F..%2Fetc/passwd", status=404),
]

MISSING = [
    Case("start a missing machine", "POST", "/cimi/machines/missing/start", {"action": f"{CIMI}/action/start"},
         status=404),
    Case("stop a missing machine, garbage body", "POST", "/cimi/machines/missing/stop", "{{{", status=(400, 404)),
    Case("action on a missing volume", "POST", "/cimi/volumes/missing/start", {"action": f"{CIMI}/action/start"},
         status=404),
    Case("action on bob's machine", "POST", "{bob_machine_path}/start", {"action": f"{CIMI}/action/start"},
         status=404),
    Case("unknown action on alice's machine", "POST", "{alice_machine_path}/selfdestruct",
         {"action": f"{CIMI}/action/selfdestruct"}, status=404),
    Case("action under a missing collection", "POST", "/cimi/nothing/x/start", {}, status=404),
    Case("capture of a missing machine", "POST", "{machineImages}", image_at("/cimi/machines/missing"), status=404),
    Case("attach to a missing machine", "POST", "/cimi/machines/missing/volumes",
         lambda refs: {"volume": {"href": refs["alice_volume"]}, "initialLocation": "vdb"}, status=404),
    Case("edit a missing volume", "PUT", "/cimi/volumes/missing", {"name": "x"}, status=404),
    Case("delete a missing machine", "DELETE", "/cimi/machines/missing", status=404),
    Case("delete a missing job", "DELETE", "/cimi/jobs/missing", status=404),
]

METHODS = [
    Case("PATCH a collection", "PATCH", "{volumes}", {"name": "x"}, status=405),
    Case("PATCH alice's volume", "PATCH", "{alice_volume_path}", {"name": "patched"}, status=405),
    Case("TRACE the entry point", "TRACE", "/cimi/cloudEntryPoint", status=405),
    Case("TRACE a volume", "TRACE", "{alice_volume_path}", status=405),
    Case("made-up method", "BREW", "{volumes}", {"name": "x"}, status=(400, 405)),
    Case("made-up method on a volume, XML answer", "FROB", "{alice_volume_path}", status=(400, 405), accept=XML),
    Case("PUT on a collection with a body", "PUT", "{volumes}", {"name": "x"}, status=405),
]

HREFS = [
    Case("config href on another host", "POST", "{machines}",
         lambda refs: machine_with_config_href(foreign("http://evil.example.com", "config")(refs))(refs)),
    Case("config href on another port", "POST", "{machines}",
         lambda refs: machine_with_config_href(foreign("http://127.0.0.1:22", "config")(refs))(refs)),
    Case("config href protocol-relative", "POST", "{machines}",
         lambda refs: machine_with_config_href(foreign("//evil.example.com", "config")(refs))(refs)),
    Case("config href file:///etc/passwd", "POST", "{machines}", machine_with_config_href("file:///etc/passwd")),
    Case("config href file: URL shaped like ours", "POST", "{machines}",
         lambda refs: machine_with_config_href(foreign("file://", "config")(refs))(refs)),
    Case("config href javascript:", "POST", "{machines}", machine_with_config_href("javascript:alert(1)")),
    Case("config href with traversal", "POST", "{machines}",
         machine_with_config_href("/cimi/machineConfigs/../../../etc/passwd")),
    Case("image href at bob's volume", "POST", "{machines}",
         lambda refs: {"machineTemplate": {"machineConfig": {"href": refs["config"]},
                                           "machineImage": {"href": refs["bob_volume"]}}}),
    Case("template volume of bob's", "POST", "{machines}",
         lambda refs: {"machineTemplate": {"machineConfig": {"href": refs["config"]},
                                           "machineImage": {"href": refs["image"]},
                                           "volumes": [{"href": refs["bob_volume"], "initialLocation": "vdb"}]}},
         status=(400, 404)),
    Case("attach bob's volume to alice's machine", "POST", "{alice_machine_path}/volumes",
         lambda refs: {"volume": {"href": refs["bob_volume"]}, "initialLocation": "vdb"}, status=404),
    Case("attach a volume href on another host", "POST", "{alice_machine_path}/volumes",
         lambda refs: {"volume": {"href": foreign("http://evil.example.com", "alice_volume")(refs)},
                       "initialLocation": "vdb"}),
    Case("attach file:///dev/sda", "POST", "{alice_machine_path}/volumes",
         {"volume": {"href": "file:///dev/sda"}, "initialLocation": "vdb"}),
]

IMAGES = [
    Case("imageLocation file:///etc/passwd", "POST", "{machineImages}", image_at("file:///etc/passwd")),
    Case("imageLocation relative traversal", "POST", "{machineImages}", image_at("../../../../etc/passwd")),
    Case("imageLocation traversal under /cimi", "POST", "{machineImages}",
         image_at("/cimi/machines/../../../etc/passwd")),
    Case("imageLocation host path with ..", "POST", "{machineImages}",
         image_at("/var/lib/libvirt/images/../../../../etc/shadow")),
    Case("imageLocation after alice's machine", "POST", "{machineImages}",
         image_at("{alice_machine}/../../../../etc/passwd")),
    Case("imageLocation encoded traversal", "POST", "{machineImages}", image_at("..%2F..%2Fetc%2Fpasswd")),
    Case("imageLocation as an href object", "POST", "{machineImages}",
         {"name": "img", "imageLocation": {"href": "file:///etc/passwd"}}),
    Case("imageLocation on another host", "POST", "{machineImages}",
         image_at(foreign("http://evil.example.com", "alice_machine"))),
    Case("imageLocation file: URL shaped like ours", "POST", "{machineImages}",
         image_at(foreign("file://", "alice_machine"))),
    Case("imageLocation at bob's machine", "POST", "{machineImages}", image_at("{bob_machine}"), status=404),
    Case("imageLocation at a volume", "POST", "{machineImages}", image_at("{alice_volume}")),
    Case("imageLocation snapshot of a file", "POST", "{machineImages}",
         image_at("file:///etc/passwd", type="SNAPSHOT")),
    Case("imageLocation in XML", "POST", "{machineImages}",
         f'<MachineImage xmlns="{CIMI}"><name>i</name><type>IMAGE</type>'
         "<imageLocation>file:///etc/passwd</imageLocation></MachineImage>", content_type=XML),
    Case("imageLocation with a NUL", "POST", "{machineImages}", image_at("/cimi/machines/x\x00/../../etc/passwd")),
]


def basic(raw):
    return "Basic " + base64.b64encode(raw).decode()


AUTH = [
    Case("auth: scheme only", "GET", "{volumes}", status=401, headers={"Authorization": "Basic"}),
    Case("auth: empty credentials", "GET", "{volumes}", status=401, headers={"Authorization": "Basic "}),
    Case("auth: no colon", "GET", "{volumes}", status=401, headers={"Authorization": basic(b"alicealice-pw")}),
    Case("auth: only a colon", "GET", "{volumes}", status=401, headers={"Authorization": basic(b":")}),
    Case("auth: not UTF-8", "GET", "{volumes}", status=401, headers={"Authorization": basic(b"\xff\xfe:\xff")}),
    Case("auth: NUL in the name", "GET", "{volumes}", status=401, headers={"Authorization": basic(b"alice\x00:alice-pw")}),
    Case("auth: padding only", "GET", "{volumes}", status=401, headers={"Authorization": "Basic ===="}),
    Case("auth: trailing junk", "GET", "{volumes}", status=401,
         headers={"Authorization": basic(b"alice:alice-pw") + " junk"}),
    Case("auth: non-ASCII", "GET", "{volumes}", status=401, headers={"Authorization": "Basic \u00e9\u00e9=="}),
    Case("auth: 200 kB of base64", "GET", "{volumes}", status=401, headers={"Authorization": "Basic " + "QUFB" * 50_000}),
    Case("auth: 100 kB password", "GET", "{volumes}", status=401,
         headers={"Authorization": basic(b"alice:" + b"x" * 100_000)}),
    Case("auth: 100 kB user name", "GET", "{volumes}", status=401,
         headers={"Authorization": basic(b"a" * 100_000 + b":x")}),
    Case("auth: another scheme", "GET", "{volumes}", status=401, headers={"Authorization": "Digest username=alice"}),
    Case("auth: garbage on a create", "POST", "{volumes}", VOLUME, status=401,
         headers={"Authorization": "Basic !!!"}),
    Case("auth: non-ASCII on a delete", "DELETE", "{alice_volume_path}", status=401,
         headers={"Authorization": "Basic \u00ff"}),
]

CASES = (MALFORMED + HUGE + XML_ATTACKS + DEEP + ENCODING + TYPES + UNKNOWN + FILTERS + IDS + MISSING + METHODS
         + HREFS + IMAGES + AUTH)
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def send(clients, case, refs):
    """Send a case through the TestClient; an exception out of the app fails the case (waitress: a 500)."""
    client = clients[case.who]
    body = case.body(refs) if callable(case.body) else case.body
    path = case.path.format(**refs)
    headers = {"Content-Type": case.content_type, **case.headers} if body is not None else dict(case.headers)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    try:
        return client.request(case.method, path, body, accept=case.accept, headers=headers)
    except Exception as exc:                                  # noqa: BLE001 - that is the finding
        pytest.fail(f"the app raised {exc!r} instead of answering (waitress turns this into a plain 500)")


@pytest.fixture
def clients(admin, alice, bob):
    return {"admin": admin, "alice": alice, "bob": bob}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request_is_refused_and_changes_nothing(case, clients, admin, alice, world, libvirt_conn):
    before = snapshot(admin, world, libvirt_conn)
    resp = send(clients, case, world.refs)
    assert_error(resp, case.status, "xml" if case.accept == XML else "json")
    if case.status == 405 or resp.status_code == 405:
        assert resp.headers.get("Allow"), "a 405 lists what is allowed"
    if resp.status_code == 401:
        assert resp.headers.get("WWW-Authenticate", "").startswith("Basic")
    assert "root:" not in resp.text, "file content leaked into the answer"
    assert snapshot(admin, world, libvirt_conn) == before
    assert_answering(admin, alice, world)


# --- hostile but harmless: injection text as a literal is only a string --------------------------------

@pytest.mark.parametrize("literal", ["'; DROP TABLE volume; --", "x\" OR \"1\"=\"1", "%", "_", "\\", "' OR ''='",
                                     "a" * 4000, "\u00e9\u4e2d\U0001f600", "\u202e"])
def test_injection_inside_a_string_literal_is_only_a_string(alice, admin, world, libvirt_conn, literal):
    """A quoted literal is data: it matches nothing, and every table is still there."""
    before = snapshot(admin, world, libvirt_conn)
    quoted = '"' + literal.replace('"', '""') + '"' if "'" in literal else "'" + literal + "'"
    for key in ("volumes", "machines"):
        resp = alice.request("GET", world.refs[key], params={"$filter": f"name={quoted}"})
        assert resp.status_code in (200, 400), resp.text[:300]
        if resp.status_code == 200:
            assert resp.json["count"] == 0
        else:
            assert_error(resp, 400)
    assert snapshot(admin, world, libvirt_conn) == before
    assert_answering(admin, alice, world)


def test_xinclude_is_not_processed(alice, admin, world, libvirt_conn):
    """lxml never runs XInclude unless asked; whatever the answer, /etc/passwd must not show up."""
    body = (f'<VolumeCreate xmlns="{CIMI}" xmlns:xi="http://www.w3.org/2001/XInclude"><name>'
            '<xi:include href="file:///etc/passwd" parse="text"/></name><volumeTemplate><volumeConfig>'
            "<capacity>1024</capacity></volumeConfig></volumeTemplate></VolumeCreate>")
    resp = alice.post(world.refs["volumes"], body, fmt="xml")
    assert resp.status_code in (201, 202, 400), resp.text[:300]
    assert "root:" not in resp.text
    if resp.status_code in (201, 202):
        assert "root:" not in alice.get(resp.headers["Location"]).text
    assert_answering(admin, alice, world)


# --- over real HTTP: waitress on loopback --------------------------------------------------------------

class Live:
    """The app under waitress on 127.0.0.1, in a thread; raw requests over a socket."""

    def __init__(self, cloud):
        self.server = waitress.create_server(create_app(cloud), host="127.0.0.1", port=0, threads=4)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()
        for channel in list(self.server._map.values()):
            channel.close()
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()

    def exchange(self, data, timeout=20):
        """Send raw bytes; return (status, headers dict, body bytes) of the first answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass                                 # the server may answer and close before reading it all
            received = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    break
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines and lines[0].startswith("HTTP/1."), f"no HTTP answer: {received[:200]!r}"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers, body


@pytest.fixture
def live(cloud):
    server = Live(cloud)
    yield server
    server.close()


def raw_request(method, path, body=b"", headers=(), auth=basic(b"alice:alice-pw")):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    lines += [f"{name}: {value}" for name, value in headers]
    head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
    return head + body


def chunked(data, size):
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                    for i in range(0, len(data), size)) + b"0\r\n\r\n"


BIG_JSON = json.dumps({**VOLUME, "name": "x" * (2 * MIB)}).encode()
JSON_HEADERS = (("Content-Type", JSON), ("Accept", JSON))

LIVE = [
    # (id, raw request builder(refs), expected status(es), answered by the app: a CIMI document in JSON/XML)
    ("2 MiB with Content-Length", lambda r: raw_request("POST", r["volumes"], BIG_JSON,
                                                        JSON_HEADERS + (("Content-Length", len(BIG_JSON)),)),
     413, "json"),
    ("2 MiB chunked (no Content-Length)", lambda r: raw_request(
        "POST", r["volumes"], chunked(BIG_JSON, 65536), JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     413, "json"),
    ("1 MiB + 1 in 1 KiB chunks", lambda r: raw_request(
        "POST", r["volumes"], chunked(b" " * (MIB + 1), 1024), JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     413, "json"),
    ("2 MiB chunked XML, XML answer", lambda r: raw_request(
        "POST", r["volumes"], chunked(xml_volume("n" * (2 * MIB)).encode(), 65536),
        (("Content-Type", XML), ("Accept", XML), ("Transfer-Encoding", "chunked"))), 413, "xml"),
    ("2 MiB PUT chunked", lambda r: raw_request(
        "PUT", r["alice_volume_path"], chunked(BIG_JSON, 65536), JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     413, "json"),
    ("small chunked array", lambda r: raw_request(
        "POST", r["volumes"], chunked(b"[1, 2]", 3), JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     400, "json"),
    ("chunked truncated JSON", lambda r: raw_request(
        "POST", r["volumes"], chunked(b'{"volumeTemplate": {', 4), JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     400, "json"),
    ("PATCH", lambda r: raw_request("PATCH", r["alice_volume_path"], b'{"name": "p"}',
                                    JSON_HEADERS + (("Content-Length", 13),)), 405, "json"),
    ("TRACE", lambda r: raw_request("TRACE", r["volumes"], headers=(("Accept", JSON),)), 405, "json"),
    ("CONNECT", lambda r: raw_request("CONNECT", r["volumes"], headers=(("Accept", JSON),)), 405, "json"),
    ("made-up method", lambda r: raw_request("BREW", r["volumes"], headers=(("Accept", JSON),)), (400, 405), "json"),
    ("made-up method, XML answer", lambda r: raw_request("BREW", r["volumes"], headers=(("Accept", XML),)),
     (400, 405), "xml"),
    ("latin-1 bytes in Authorization", lambda r: raw_request("GET", r["volumes"], auth="Basic \xe9\xe9\xff"),
     401, "json"),
    ("NUL id, XML answer", lambda r: raw_request("GET", "/cimi/volumes/%00", headers=(("Accept", XML),)),
     404, "xml"),
    ("control character id, XML answer", lambda r: raw_request("GET", "/cimi/volumes/%1b",
                                                               headers=(("Accept", XML),)), 404, "xml"),
    ("encoded traversal", lambda r: raw_request("GET", "/cimi/volumes/..%2F..%2Fetc%2Fpasswd",
                                                headers=(("Accept", JSON),)), 404, "json"),
    ("raw traversal", lambda r: raw_request("GET", "/cimi/volumes/../../../etc/passwd",
                                            headers=(("Accept", JSON),)), 404, "json"),
    # answered by waitress before the app: 4xx, not a CIMI document
    ("Content-Length over waitress's 1 GiB", lambda r: raw_request(
        "POST", r["volumes"], b"{}", JSON_HEADERS + (("Content-Length", 10 * 1024 ** 3),)), 413, None),
    ("negative Content-Length", lambda r: raw_request(
        "POST", r["volumes"], b"{}", JSON_HEADERS + (("Content-Length", -5),)), 400, None),
    ("bad chunk size", lambda r: raw_request(
        "POST", r["volumes"], b"zz\r\n{}\r\n0\r\n\r\n", JSON_HEADERS + (("Transfer-Encoding", "chunked"),)),
     400, None),
    ("lower-case method", lambda r: raw_request("get", r["volumes"]), 400, None),
]


@pytest.mark.parametrize("case", LIVE, ids=[c[0] for c in LIVE])
def test_hostile_http_request_is_refused(case, live, admin, alice, world, libvirt_conn):
    _, build, status, fmt = case
    before = snapshot(admin, world, libvirt_conn)
    code, headers, body = live.exchange(build(world.refs))
    allowed = status if isinstance(status, tuple) else (status,)
    assert code in allowed, (code, headers, body[:500])
    if fmt is not None:
        assert headers.get("content-type", "").split(";")[0] == (JSON if fmt == "json" else XML), headers
        if fmt == "json":
            doc = json.loads(body)
            assert doc["resourceURI"] == f"{CIMI}/Job" and doc["state"] == "FAILED" and doc["statusMessage"]
        else:
            root = etree.fromstring(body)
            assert root.tag == NS + "Job" and root.findtext(NS + "state") == "FAILED"
        assert "location" not in headers and "cimi-job-uri" not in headers
    assert snapshot(admin, world, libvirt_conn) == before
    code, _, body = live.exchange(raw_request("GET", "/cimi/cloudEntryPoint", headers=(("Accept", JSON),)))
    assert code == 200, body[:300]
    assert_answering(admin, alice, world)


def test_live_server_keeps_answering_after_a_burst_of_garbage(live, admin, alice, world, libvirt_conn):
    """Every LIVE case back to back on one server, then a normal create and read over HTTP."""
    before = snapshot(admin, world, libvirt_conn)
    for _, build, _, _ in LIVE:
        code, _, _ = live.exchange(build(world.refs))
        assert 400 <= code < 500
    assert snapshot(admin, world, libvirt_conn) == before
    body = json.dumps(VOLUME).encode()
    code, headers, raw = live.exchange(raw_request("POST", world.refs["volumes"], body,
                                                   JSON_HEADERS + (("Content-Length", len(body)),)))
    assert code in (201, 202), raw[:300]
    location = headers["location"]
    code, _, raw = live.exchange(raw_request("GET", location[location.index("/cimi/"):], headers=(("Accept", JSON),)))
    assert code == 200 and json.loads(raw)["id"] == location



@pytest.mark.parametrize("name", ["link-to-passwd.qcow2", "sub/../link-to-passwd.qcow2", "link-to-dir/passwd"])
def test_image_registration_does_not_follow_links_out_of_the_import_directory(
        cloud, alice, admin, world, libvirt_conn, name):
    """imageLocation as a path under the import directory: a symlink out of it is refused like `..`."""
    import os
    from pathlib import Path
    root = Path(cloud.config.import_dir)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    if not (root / "link-to-passwd.qcow2").is_symlink():
        os.symlink("/etc/passwd", root / "link-to-passwd.qcow2")
        os.symlink("/etc", root / "link-to-dir")
    before = snapshot(admin, world, libvirt_conn)
    for location in (name, f"file://{root.resolve() / name}"):
        resp = alice.post(world.refs["machineImages"], {"name": "img", "type": "IMAGE", "imageLocation": location})
        assert_error(resp, 400)
        assert "root:" not in resp.text
    assert snapshot(admin, world, libvirt_conn) == before
    assert_answering(admin, alice, world)
