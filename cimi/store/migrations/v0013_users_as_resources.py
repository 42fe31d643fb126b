"""Users became resources (the `User` kind, collection `users`): their table takes the shape of every kind's.

Each user keeps their name (now also the row's owner, so that they read their own row), their
admin flag, their groups (read from group_member, which stays the index sharing reads) and their
password's salt and scrypt hash, as hex in the internal data keys `_salt` and `_hash`. The name stays unique.
"""
import datetime
import json
import uuid

import peewee

from cimi.store.migrations.v0001_initial import resource_table


def _time(value):
    """A timestamp as the old table returned it (SQLite may give text)."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value).replace(tzinfo=None)
    return value


def apply(database):
    with database.atomic():
        old = database.execute_sql('SELECT name, salt, hash, admin, created FROM "user"').fetchall()
        groups = {}
        for principal, user_name in database.execute_sql("SELECT principal, user_name FROM group_member"):
            groups.setdefault(user_name, []).append(principal.removeprefix("group:"))
        database.execute_sql('DROP TABLE "user"')
        model = resource_table("user")
        with database.bind_ctx([model]):
            database.create_tables([model])
            for name, salt, digest, admin, created in old:
                data = {"admin": bool(admin), "groups": sorted(groups.get(name, ())),
                        "_salt": bytes(salt).hex(), "_hash": bytes(digest).hex()}
                model.insert(id=uuid.uuid4().hex, owner=name, name=name, created=_time(created),
                             updated=_time(created), data=json.dumps(data)).execute()
        database.execute_sql('CREATE UNIQUE INDEX "user_name_unique" ON "user" ("name")')
        if isinstance(database, peewee.PostgresqlDatabase):          # data is jsonb on PostgreSQL (steps 5, 12)
            for column in ("data", "properties"):
                database.execute_sql(f'ALTER TABLE "user" ALTER COLUMN "{column}" DROP DEFAULT, '
                                     f'ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb, '
                                     f"ALTER COLUMN \"{column}\" SET DEFAULT '{{}}'::jsonb")
