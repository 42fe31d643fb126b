"""Networks on a real libvirtd: a restarted network takes its running machines back."""
import os
import random
import uuid

import pytest
from lxml import etree

from backends import model

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
