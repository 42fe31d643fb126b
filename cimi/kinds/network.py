"""Network (libvirt networks), and the NetworkPorts and Addresses found on them (operations: cimi/ops/networks.py)."""
from cimi.ops import networks
from cimi.registry import Action, Kind, register

register(Kind("Network", "networks", create_schema="NetworkCreate", create=networks.prepare,
              delete=networks.check_delete, refresh=networks.refresh,
              deletable_states=frozenset({"STARTED", "STOPPED", "ERROR", "CREATING"}),
              actions={"start": Action("start", frozenset({"STOPPED", "ERROR"}), "STARTING", handler=networks.start),
                       "stop": Action("stop", frozenset({"STARTED"}), "STOPPING", handler=networks.stop,
                                      check=networks.check_stop)},
              jobs={"create": networks.create, "delete": networks.delete},
              capabilities=(("NetworkTemplateByValue", "true", "networkTemplate may be given by value"),
                            ("NetworkConfigByValue", "true", "networkConfig may be given by value"))))
register(Kind("NetworkPort", "networkPorts", editable=False, deletable_states=frozenset()))
register(Kind("Address", "addresses", editable=False, deletable_states=frozenset()))
