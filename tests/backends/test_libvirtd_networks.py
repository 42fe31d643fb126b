"""Networks on a real libvirtd: a restarted network takes its running machines back; a refused create leaves nothing."""
import os
import random
import uuid

import libvirt
import pytest
from lxml import etree

from backends import model
from backends.libvirt import designer, xml

pytestmark = pytest.mark.libvirtd


def test_starting_a_network_plugs_running_machines_back_in(tcg):
    b, observer, made = tcg
    suffix = uuid.uuid4().hex[:8]
    net = b.create_network(model.NetworkSpec(f"replug-{suffix}", "isolated",
                                             f"10.{random.randint(1, 250)}.{random.randint(1, 250)}.0/24"))
    made.append(("network", net.key))
    b.start_network(net.key)
    m = b.create_machine(model.MachineSpec(f"replug-{suffix}", 1, 65536, disks=[model.DiskSpec(1 << 20)],
                                           nics=[model.NicSpec(net.key)]))
    made.append(("machine", m.key))
    b.start_machine(m.key)
    dom_name = observer.lookupByUUIDString(m.key).name()
    ((name, mac, connected),) = b.network_links(net.key)
    assert (name, connected) == (dom_name, True)
    b.stop_network(net.key)
    assert b.network_links(net.key) == [(dom_name, mac, False)]
    b.start_network(net.key)
    assert b.network_links(net.key) == [(dom_name, mac, True)]
    tap = etree.fromstring(observer.lookupByUUIDString(m.key).XMLDesc(0)).xpath("string(devices/interface/target/@dev)")
    bridge = observer.networkLookupByName(net.key).bridgeName()
    assert os.path.basename(os.readlink(f"/sys/class/net/{tap}/master")) == bridge


def test_a_create_libvirt_refuses_fails_its_job_and_leaves_nothing(tcg_cloud, libvirtd):
    """A range a libvirt network outside the cloud holds: the Job fails, no Network row, no libvirt network."""
    _cloud, alice = tcg_cloud()
    conn = libvirt.open(libvirtd)
    cidr = f"10.{random.randint(1, 254)}.{random.randint(1, 254)}.0/24"
    outside = conn.networkDefineXML(designer.network(f"dsc-outside-{uuid.uuid4().hex[:6]}", "nat", cidr).to_xml())
    try:
        outside.create()
        resp = alice.post(alice.cep()["networks"]["href"], {
            "resourceURI": "http://schemas.dmtf.org/cimi/1/NetworkCreate",
            "networkTemplate": {"networkConfig": {"networkType": "PUBLIC", "cidr": cidr}}})
        assert resp.status_code == 202, resp.text
        job = alice.wait(resp.headers["CIMI-Job-URI"], timeout=60)
        assert job["state"] == "FAILED" and job["statusMessage"]
        assert alice.get(resp.headers["Location"]).status_code == 404
        left = [n.name() for n in conn.listAllNetworks()
                if n.name() != outside.name() and designer.network_cidr(xml.Network.parse(n.XMLDesc(0))) == cidr]
        assert left == []
    finally:
        outside.destroy()
        outside.undefine()
        conn.close()
