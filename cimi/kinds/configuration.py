"""Configurations and templates: data kept by value, created by POSTing the resource itself."""
from cimi.registry import Kind, register

for name, collection, provider_only in [
        ("MachineConfiguration", "machineConfigs", True),
        ("MachineTemplate", "machineTemplates", False),
        ("VolumeConfiguration", "volumeConfigs", False),
        ("VolumeTemplate", "volumeTemplates", False),
        ("NetworkConfiguration", "networkConfigs", False),
        ("NetworkTemplate", "networkTemplates", False)]:
    register(Kind(name, collection, create_schema=name, provider_only=provider_only,
                  capabilities=()))
