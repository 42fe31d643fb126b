"""Network (libvirt networks), and the NetworkPorts and Addresses found on them (operations: cimi/ops/networks.py)."""
from cimi.ops import networks
from cimi.registry import Action, Kind, register
from cimi.store.links import CASCADE, Link

register(Kind("Network", "networks", create_schema="NetworkCreate", create=networks.prepare,
              delete=lambda ctx, row: networks.delete, refresh=networks.refresh,
              deletable_states=frozenset({"STARTED", "STOPPED", "ERROR", "CREATING"}),
              actions={"start": Action("start", frozenset({"STOPPED", "ERROR"}), "STARTING", handler=networks.start),
                       "stop": Action("stop", frozenset({"STARTED"}), "STOPPING", handler=networks.stop,
                                      check=networks.check_stop)},
              jobs={"create": networks.create, "delete": networks.delete},
              capabilities=(("NetworkTemplateByValue", "true", "networkTemplate may be given by value"),
                            ("NetworkConfigByValue", "true", "networkConfig may be given by value"))))
register(Kind("NetworkPort", "networkPorts", editable=False, deletable_states=frozenset(),
              links=(Link("network", "Network"),)))
register(Kind("Address", "addresses", editable=False, deletable_states=frozenset(),   # a lease's record
              links=(Link("_machine", "Machine", CASCADE), Link("_network", "Network", CASCADE))))
