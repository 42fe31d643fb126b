"""Read-only sharing: grants of rows to principals, and users' groups, each table indexed both ways.

No row carries an `acl` before this step, so there is nothing to fill.
"""
import peewee


class Grant(peewee.Model):
    kind = peewee.CharField(max_length=64)
    row_id = peewee.CharField(max_length=64)
    principal = peewee.CharField(max_length=160)

    class Meta:
        table_name = "acl_grant"
        primary_key = peewee.CompositeKey("kind", "principal", "row_id")
        indexes = ((("kind", "row_id"), False), (("principal",), False))


class Membership(peewee.Model):
    principal = peewee.CharField(max_length=160)
    user_name = peewee.CharField(max_length=128)

    class Meta:
        table_name = "group_member"
        primary_key = peewee.CompositeKey("principal", "user_name")
        indexes = ((("user_name",), False),)


def apply(database):
    with database.bind_ctx([Grant, Membership]):
        database.create_tables([Grant, Membership])
