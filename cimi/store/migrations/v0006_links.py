"""Links between rows in their own table, indexed on both ends, filled from what existing rows say.

Until now a reference lived only inside a row's JSON `data` (an href, or an
internal key such as a Machine's `_image`), and "who refers to X" searched
that text. The fill below reads every row with the references as they were
declared when this step was written (frozen here, as the step's tables are);
later declarations are kept by the store as rows are written.
"""
import json

import peewee

# table: (kind name, [(path in data, target kind, or None for a [kind, id] pair)]); "[]": a list's items.
LINKS = {
    "machine_template": ("MachineTemplate", [("machineConfig", "MachineConfiguration"),
        ("machineImage", "MachineImage"), ("machineImage/relatedImage", "MachineImage"),
        ("credential", "Credential"), ("volumes/[]", "Volume"), ("volumeTemplates/[]", "VolumeTemplate"),
        ("volumeTemplates/[]/volumeConfig", "VolumeConfiguration"),
        ("volumeTemplates/[]/volumeImage", "VolumeImage"), ("networkInterfaces/[]/network", "Network")]),
    "volume_template": ("VolumeTemplate", [("volumeConfig", "VolumeConfiguration"), ("volumeImage", "VolumeImage")]),
    "network_template": ("NetworkTemplate", [("networkConfig", "NetworkConfiguration")]),
    "network_port": ("NetworkPort", [("network", "Network")]),
    "address": ("Address", [("network", "Network"), ("_machine", "Machine"), ("_network", "Network")]),
    "machine": ("Machine", [("latestSnapshot", "MachineImage"), ("_image", "MachineImage"),
        ("_madeVolumes/[]/id", "Volume")]),
    "machine_network_interface": ("MachineNetworkInterface", [("network", "Network")]),
    "machine_volume": ("MachineVolume", [("volume", "Volume"), ("_volume", "Volume")]),
    "machine_image": ("MachineImage", [("relatedImage", "MachineImage"), ("_machine", "Machine")]),
    "job": ("Job", [("parentJob", "Job"), ("nestedJobs/[]", "Job"), ("_target", None)]),
    "system_machine": ("SystemMachine", [("machine", "Machine"), ("_member", "Machine")]),
    "system_volume": ("SystemVolume", [("volume", "Volume"), ("_member", "Volume")]),
    "system_network": ("SystemNetwork", [("network", "Network"), ("_member", "Network")]),
    "system_credential": ("SystemCredential", [("credential", "Credential"), ("_member", "Credential")]),
    "system_template": ("SystemTemplate", [("componentDescriptors/[]/credentialTemplate", "CredentialTemplate"),
        ("componentDescriptors/[]/machineTemplate", "MachineTemplate"),
        ("componentDescriptors/[]/machineTemplate/machineConfig", "MachineConfiguration"),
        ("componentDescriptors/[]/machineTemplate/machineImage", "MachineImage"),
        ("componentDescriptors/[]/machineTemplate/machineImage/relatedImage", "MachineImage"),
        ("componentDescriptors/[]/machineTemplate/credential", "Credential"),
        ("componentDescriptors/[]/machineTemplate/volumes/[]", "Volume"),
        ("componentDescriptors/[]/machineTemplate/volumeTemplates/[]", "VolumeTemplate"),
        ("componentDescriptors/[]/machineTemplate/volumeTemplates/[]/volumeConfig", "VolumeConfiguration"),
        ("componentDescriptors/[]/machineTemplate/volumeTemplates/[]/volumeImage", "VolumeImage"),
        ("componentDescriptors/[]/machineTemplate/networkInterfaces/[]/network", "Network"),
        ("componentDescriptors/[]/networkTemplate", "NetworkTemplate"),
        ("componentDescriptors/[]/networkTemplate/networkConfig", "NetworkConfiguration"),
        ("componentDescriptors/[]/volumeTemplate", "VolumeTemplate"),
        ("componentDescriptors/[]/volumeTemplate/volumeConfig", "VolumeConfiguration"),
        ("componentDescriptors/[]/volumeTemplate/volumeImage", "VolumeImage")]),
    "volume": ("Volume", [("attachedTo", "Machine")]),
    "volume_image": ("VolumeImage", [("_volume", "Volume")]),
}


class Link(peewee.Model):
    source_kind = peewee.CharField(max_length=64)
    source_id = peewee.CharField(max_length=64)
    role = peewee.CharField(max_length=255)
    target_kind = peewee.CharField(max_length=64)
    target_id = peewee.CharField(max_length=64)

    class Meta:
        table_name = "link"
        indexes = ((("target_kind", "target_id"), False), (("source_kind", "source_id"), False))


def _values(data, path):
    found = [data]
    for step in path.split("/"):
        if step == "[]":
            found = [item for value in found if isinstance(value, list) for item in value]
        else:
            found = [value[step] for value in found if isinstance(value, dict) and step in value]
    return found


def _targets(data, declared):
    out = set()
    for role, target in declared:
        for value in _values(data, role):
            if target is None:
                if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
                    out.add((role, value[0], value[1]))
                continue
            for item in value if isinstance(value, list) else [value]:
                href = item.get("href") if isinstance(item, dict) else item
                if isinstance(href, str) and href:
                    out.add((role, target, href.rstrip("/").rsplit("/", 1)[-1]))
    return out


def apply(database):
    with database.bind_ctx([Link]):
        database.create_tables([Link])
        for table, (kind, declared) in LINKS.items():
            if not database.table_exists(table):
                continue
            for row_id, text in database.execute_sql(f'SELECT id, data FROM "{table}"').fetchall():
                rows = [{"source_kind": kind, "source_id": row_id, "role": role, "target_kind": target_kind,
                         "target_id": target_id} for role, target_kind, target_id in sorted(_targets(
                             json.loads(text or "{}") if isinstance(text, str) else (text or {}), declared))]
                if rows:
                    Link.insert_many(rows).execute()
