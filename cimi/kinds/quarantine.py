"""QuarantinedResource (a provider extension): deleted Machines, Volumes and images kept for a while.

Entries are made by the delete Jobs when a retention applies, and restored,
purged or expired by cimi/ops/quarantine.py.
"""
from cimi.ops import quarantine
from cimi.registry import Action, Kind, register
from cimi.vocabulary import extension_uri

register(Kind(quarantine.KIND, "quarantinedResources", editable=False, deletable_states=frozenset(),
              refresh=quarantine.settle,
              actions={"restore": Action("restore", frozenset({"QUARANTINED"}), "RESTORING", quarantine.restore,
                                         check=quarantine.check_restore, rel=extension_uri("restore")),
                       "purge": Action("purge", frozenset({"QUARANTINED"}), "PURGING", quarantine.purge,
                                       rel=extension_uri("purge"))}))
