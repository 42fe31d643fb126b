"""The first schema: one table per resource kind, the Job columns workers claim with, users."""
import datetime

import peewee

KINDS = ("machine_configuration", "machine_template", "volume_configuration", "volume_template",
         "network_configuration", "network_template", "credential", "network", "network_port", "address",
         "machine", "disk", "machine_network_interface", "machine_volume", "machine_image",
         "resource_metadata", "system", "system_machine", "system_volume", "system_network",
         "system_credential", "system_template", "volume", "volume_image")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class Resource(peewee.Model):
    id = peewee.CharField(primary_key=True, max_length=64)
    owner = peewee.CharField(null=True, index=True, max_length=128)
    parent = peewee.CharField(null=True, index=True, max_length=64)
    name = peewee.CharField(null=True, max_length=1024)
    description = peewee.TextField(null=True)
    created = peewee.DateTimeField(default=_now, index=True)
    updated = peewee.DateTimeField(default=_now)
    state = peewee.CharField(null=True, index=True, max_length=32)
    version = peewee.IntegerField(default=1)
    properties = peewee.TextField(default="{}")
    data = peewee.TextField(default="{}")


class Job(Resource):
    worker = peewee.CharField(null=True, max_length=64)
    lease_until = peewee.DateTimeField(null=True, index=True)
    handler = peewee.CharField(null=True, max_length=64)
    payload = peewee.TextField(default="{}")

    class Meta:
        table_name = "job"


class User(peewee.Model):
    name = peewee.CharField(primary_key=True, max_length=128)
    salt = peewee.BlobField()
    hash = peewee.BlobField()
    admin = peewee.BooleanField(default=False)
    created = peewee.DateTimeField(default=_now)

    class Meta:
        table_name = "user"


def resource_table(table):
    """A model of a resource table as this step made it (later steps that add a kind reuse it)."""
    return type(f"Frozen_{table}", (Resource,), {"Meta": type("Meta", (), {"table_name": table})})


def apply(database):
    models = [User, Job, *(resource_table(t) for t in KINDS)]
    with database.bind_ctx(models):
        database.create_tables(models)
