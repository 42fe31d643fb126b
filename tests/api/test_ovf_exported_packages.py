"""Exports are resources of their owner: listed, downloaded with Range, deleted, expired."""
from pathlib import Path

from cimi.ops.exported_packages import expire
from tests.api.test_ovf_export import download_href, export, exported_files, stopped_machine  # noqa: F401


def packages(client):
    return client.get(client.cep()["exportedPackages"]["href"]).json.get("exportedPackages", [])


def test_an_export_is_listed_for_its_owner_only(alice, bob, admin, cloud, stopped_machine):  # noqa: F811
    job = export(alice, stopped_machine)
    href = download_href(job)
    [package] = packages(alice)
    assert package["package"]["href"] == href and package["source"]["href"] == stopped_machine["id"]
    assert package["size"] == (Path(cloud.config.export_dir) / href.rsplit("/", 1)[-1]).stat().st_size
    assert package["state"] == "AVAILABLE" and package["expires"] > package["created"]
    assert {"href": package["id"]} in job["affectedResources"]
    assert packages(bob) == [] and bob.get(package["id"]).status_code == 404
    assert [p["id"] for p in packages(admin)] == [package["id"]]


def test_deleting_the_export_removes_the_file(alice, bob, cloud, stopped_machine):  # noqa: F811
    first, second = download_href(export(alice, stopped_machine)), download_href(export(alice, stopped_machine))
    by_href = {p["package"]["href"]: p for p in packages(alice)}
    assert bob.delete(by_href[first]["id"]).status_code == 404
    assert alice.delete(by_href[first]["id"]).status_code == 200
    assert alice.get(first).status_code == 404 and alice.get(by_href[first]["id"]).status_code == 404
    assert alice.delete(second).status_code == 200            # DELETE of the download itself (was 405)
    assert alice.get(second).status_code == 404
    assert packages(alice) == [] and exported_files(cloud) == []


def test_a_download_resumes_with_range_requests(alice, stopped_machine):  # noqa: F811
    href = download_href(export(alice, stopped_machine))
    whole = alice.get(href)
    size = len(whole.content)
    assert whole.headers["accept-ranges"] == "bytes"
    part = alice.get(href, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206, part.text
    assert part.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"
    assert whole.content[:1000] + part.content == whole.content
    middle = alice.get(href, headers={"Range": "bytes=10-19"})
    assert (middle.status_code, middle.content) == (206, whole.content[10:20])
    assert int(middle.headers["content-length"]) == 10
    tail = alice.get(href, headers={"Range": "bytes=-512"})
    assert (tail.status_code, tail.content) == (206, whole.content[-512:])
    beyond = alice.get(href, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    assert alice.get(href, headers={"Range": "bytes=5-1"}).status_code in (400, 416)
    assert alice.get(href, headers={"Range": "bytes=0-1,5-6"}).status_code == 400


def test_exports_expire_after_the_retention(alice, cloud, stopped_machine):  # noqa: F811
    cloud.config.export_retention = 0
    first = download_href(export(alice, stopped_machine))
    assert len(packages(alice)) == 1
    assert expire(cloud) == 1
    assert packages(alice) == [] and exported_files(cloud) == [] and alice.get(first).status_code == 404
    cloud.config.export_retention = 3600
    export(alice, stopped_machine)
    assert expire(cloud) == 0 and len(packages(alice)) == 1


def test_the_server_takes_an_export_retention_in_days():
    import argparse

    from cimi.server import _options, config_from
    parser = argparse.ArgumentParser()
    _options(parser)
    assert config_from(parser.parse_args(["--export-retention", "2"])).export_retention == 2 * 86400
    assert config_from(parser.parse_args([])).export_retention == 7 * 86400


def test_xml_of_the_extension(alice, stopped_machine):  # noqa: F811
    """ExportedPackage is not in DSP8009: its elements are in our namespace, so the CEP and the
    Collection (whose items DSP8009 takes laxly) still validate; the resource alone has no DSP8009 type."""
    from lxml import etree

    from cimi.vocabulary import EXTENSION_NS
    from tests.api.test_xml_schema import XSD, check
    from tests.conftest import XML
    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    export(alice, stopped_machine)
    cep = check(xsd, alice.get("/cimi/cloudEntryPoint", accept=XML), "CloudEntryPoint")
    assert cep.find(f"{{{EXTENSION_NS}}}exportedPackages") is not None
    href = alice.cep()["exportedPackages"]["href"]
    coll = check(xsd, alice.get(href, accept=XML), "Collection")
    [item] = coll.findall(f"{{{EXTENSION_NS}}}ExportedPackage")
    doc = etree.fromstring(alice.get(packages(alice)[0]["id"], accept=XML).content)
    assert doc.tag == f"{{{EXTENSION_NS}}}ExportedPackage"
    assert item.find("{http://schemas.dmtf.org/cimi/1}size").text == str(packages(alice)[0]["size"])
