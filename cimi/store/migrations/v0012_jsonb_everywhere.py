"""PostgreSQL: the tables steps 8 and 9 made (Quota, QuarantinedResource) keep `data` as jsonb too, as step 5 made every other."""
import peewee


def apply(database):
    if not isinstance(database, peewee.PostgresqlDatabase):
        return
    for table in ("quota", "quarantined_resource"):
        for column in ("data", "properties"):
            database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT, '
                                 f'ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb, '
                                 f"ALTER COLUMN \"{column}\" SET DEFAULT '{{}}'::jsonb")
