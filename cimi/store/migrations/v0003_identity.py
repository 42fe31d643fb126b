"""Give the installation an identity that names what it makes on shared hosts."""
import uuid

import peewee


class Setting(peewee.Model):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()

    class Meta:
        table_name = "setting"


def apply(database):
    with database.bind_ctx([Setting]):
        database.create_tables([Setting])
        Setting.insert(key="cloud_id", value=uuid.uuid4().hex[:8]).on_conflict_ignore().execute()
