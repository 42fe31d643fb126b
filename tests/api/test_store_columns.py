"""Typed columns (schemas' `x-column`, migration 5) on SQLite and on a real PostgreSQL."""
import json

import pytest

from cimi import kinds, registry, store
from cimi.store import columns, db, migrations
from cimi.store.sql import make_resolver
from cimi.query import parse_query
from tests.api.test_store import database_url  # noqa: F401  (the fixture: an empty database of each kind)


@pytest.fixture
def database(database_url):  # noqa: F811
    database = db.open_database(database_url)
    yield database
    database.close()


def _postgres(database):
    return not database.__class__.__name__.startswith("Counting")


def test_every_x_column_has_its_column_and_indexes_after_the_migrations(database):
    """What the schemas annotate (`x-column`, `"desc"`) is what the migrations made, on every kind."""
    migrations.migrate(database)
    missing = []
    for kind in kinds.load_all():
        table = db.model_for(kind.name)._meta.table_name
        present = {c.name: c.data_type for c in database.get_columns(table)}
        indexes = {tuple(i.columns) for i in database.get_indexes(table)}
        for column in columns.of(kind.name):
            desc = kind.schema["properties"][column.path.split("/")[0]]["x-column"] == "desc"
            leads = [(), ("state",)] if "state" in kind.schema["properties"] else [()]
            wanted = [lead + (column.name,) + tail for lead in leads for tail in [()] + desc * [("created", "id")]]
            missing += [f"{kind.name}: index {index}" for index in wanted if index not in indexes]
            if column.name not in present:
                missing.append(f"{kind.name}.{column.path}: column")
        if _postgres(database):
            assert (present["data"], present["properties"]) == ("jsonb", "jsonb"), kind.name
    assert missing == []
    assert columns.of("Machine") and columns.of("Job") and columns.of("Volume")


def test_the_store_copies_typed_values_out_of_data_on_every_write(database):
    migrations.migrate(database)
    model = db.model_for("Machine")

    def typed(row_id):
        return model.select(model.cpu, model.memory, model.cpu_arch).where(model.id == row_id).dicts().get()

    row = store.insert("Machine", {"state": "STARTED", "data": {"cpu": 2, "memory": 1024, "cpuArch": "x86_64"}})
    assert typed(row["id"]) == {"cpu": 2, "memory": 1024, "cpu_arch": "x86_64"}
    assert row["data"] == {"cpu": 2, "memory": 1024, "cpuArch": "x86_64"}
    # The JSON still reads as text with json.dumps' separators (jsonb on PostgreSQL), for LIKE over it.
    assert model.select().where(model.data.contains('"cpuArch": "x86_64"')).count() == 1
    store.update("Machine", row["id"], {"data": {"cpu": "four", "memory": 2 ** 70}})
    assert typed(row["id"]) == {"cpu": None, "memory": None, "cpu_arch": None}    # wrong type, too big, gone
    store.set_state("Machine", row["id"], "STOPPED", cpu=4)
    assert typed(row["id"])["cpu"] == 4
    job = store.insert("Job", {"state": "QUEUED", "data": {"targetResource": {"href": "http://h/m/1"},
                                                           "timeOfStatusChange": "2026-01-02T03:04:05+01:00"}})
    jobs = db.model_for("Job")
    stored = jobs.select(jobs.target_resource_href, jobs.time_of_status_change).where(jobs.id == job["id"]).get()
    assert stored.target_resource_href == "http://h/m/1"
    assert stored.time_of_status_change.isoformat() == "2026-01-02T02:04:05"


def test_migration_5_fills_the_columns_of_rows_already_there(database):
    steps = migrations.steps()
    with migrations.SchemaVersion.bind_ctx(database):
        database.create_tables([migrations.SchemaVersion])
        for number, step in enumerate(steps[:4], start=1):
            step.apply(database)
            migrations.SchemaVersion.create(version=number)
    data = {"cpu": 4, "memory": 8192, "cpuArch": "aarch64", "host": "node-a", "_key": "k"}
    database.execute_sql(f"INSERT INTO machine (id, created, updated, version, state, properties, data) "
                         f"VALUES ('m1', '2026-01-01', '2026-01-01', 1, 'STARTED', '{{\"a\": \"b\"}}', "
                         f"{database.param})", [json.dumps(data)])
    database.execute_sql(f"INSERT INTO job (id, created, updated, version, state, properties, data, payload) "
                         f"VALUES ('j1', '2026-01-01', '2026-01-01', 1, 'SUCCESS', '{{}}', {database.param}, '{{}}')",
                         [json.dumps({"action": "start", "progress": 100, "timeOfStatusChange": "2026-01-01T10:00:00Z"})])
    assert migrations.migrate(database) == len(steps)
    machine = db.model_for("Machine").select().where(db.model_for("Machine").id == "m1").get()
    assert (machine.cpu, machine.memory, machine.cpu_arch, machine.host, machine.cpu_speed) == (4, 8192, "aarch64",
                                                                                                "node-a", None)
    assert store.get("Machine", "m1")["data"] == data and store.get("Machine", "m1")["properties"] == {"a": "b"}
    job = db.model_for("Job").get_by_id("j1")
    assert (job.action, job.progress, job.time_of_status_change.isoformat()) == ("start", 100, "2026-01-01T10:00:00")


class _Admin:
    name, admin = "admin", True


def test_a_listing_counts_on_a_narrow_index_and_reads_its_page_off_an_ordered_one_on_sqlite(tmp_path):
    """With statistics, as the store keeps them: no JSON, no sort of every match (docs/performance.md)."""
    database = db.open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        migrations.migrate(database)
        store.insert_many("Machine", [{"id": f"m{n}", "owner": "admin", "state": ("STARTED", "STOPPED")[n % 2],
                                       "created": db.utcnow(), "name": f"vm{n}", "properties": {},
                                       "data": {"cpu": n % 8, "memory": 1024 * (n % 16)}} for n in range(3000)])
        database.execute_sql("ANALYZE")
        model = db.model_for("Machine")
        types = {"cpu": "integer", "memory": "integer", "state": "string", "name": "string"}
        query = parse_query({"$filter": "state='STARTED' and cpu>=2", "$orderby": "memory:desc", "$last": "20"},
                            make_resolver(model, types, {"state", "name"}))
        statements, execute = [], database.execute_sql
        database.execute_sql = lambda sql, params=None, *a, **k: statements.append((sql, params)) or execute(
            sql, params, *a, **k)
        try:
            rows, count = store.select("Machine", _Admin, query)
        finally:
            del database.execute_sql
        assert count == 1125 and len(rows) == 20 and rows[0]["data"]["memory"] == 1024 * 14
        plans = [" ".join(r[3] for r in execute("EXPLAIN QUERY PLAN " + sql, params)) for sql, params in statements]
        assert all("json_extract" not in sql for sql, _ in statements)
        assert "COVERING INDEX machine_state_cpu (state=? AND cpu>?)" in plans[0]
        assert "INDEX machine_state_memory_desc (state=?)" in plans[1] and "TEMP B-TREE" not in plans[1]
    finally:
        database.close()


def test_sqlite_refreshes_the_planner_statistics_after_enough_writes(tmp_path):
    """Without them SQLite sorts every match instead of reading the page off the ordered index."""
    database = db.open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        migrations.migrate(database)                   # ANALYZE of an empty store
        database.ANALYZE_EVERY = 10
        model = db.model_for("Machine")
        types = {"cpu": "integer", "memory": "integer", "state": "string"}
        query = parse_query({"$filter": "state='STARTED' and cpu>=2", "$orderby": "memory:desc", "$last": "20"},
                            make_resolver(model, types, {"state"}))
        store.select("Machine", _Admin, query)
        store.insert_many("Machine", [{"id": f"m{n}", "owner": "admin", "state": ("STARTED", "STOPPED")[n % 2],
                                       "created": db.utcnow(), "name": f"vm{n}", "properties": {},
                                       "data": {"cpu": n % 8, "memory": 1024 * (n % 16)}} for n in range(3000)])
        page = query.paged(query.filtered(model.select(model.id)), model.created, model.id).sql()
        before = " ".join(r[3] for r in database.execute_sql("EXPLAIN QUERY PLAN " + page[0], page[1]))
        store.select("Machine", _Admin, query)
        after = " ".join(r[3] for r in database.execute_sql("EXPLAIN QUERY PLAN " + page[0], page[1]))
        assert "TEMP B-TREE" in before and "INDEX machine_state_memory_desc" in after and "TEMP B-TREE" not in after
    finally:
        database.close()


def test_a_listing_s_count_is_reused_only_while_nothing_was_committed(database, database_url):  # noqa: F811
    """The count cache is exact: a commit anywhere (on PostgreSQL, by another front end too) recounts."""
    migrations.migrate(database)
    query = parse_query({"$filter": "state='STARTED' and flavour!='x'"},   # flavour: a JSON path, a list on PostgreSQL
                        store.table_resolver("Machine", {"state": "string", "flavour": "string"}, set(store.COLUMNS)))
    for _ in range(3):
        store.insert("Machine", {"state": "STARTED", "data": {"cpu": 1, "flavour": "a"}})
    assert store.select("Machine", None, query)[1] == 3
    assert store.select("Machine", None, query)[1] == 3          # reused: nothing committed since
    assert db.commit_token() == db.commit_token()                 # reading changes no token
    store.insert("Machine", {"state": "STARTED", "data": {"cpu": 1, "flavour": "a"}})
    assert store.select("Machine", None, query)[1] == 4
    if _postgres(database):                                       # another front end's commit
        import psycopg2
        other = psycopg2.connect(database_url)
        other.autocommit = True
        other.cursor().execute("UPDATE machine SET state = 'STOPPED' WHERE id = (SELECT min(id) FROM machine)")
        other.close()
        assert store.select("Machine", None, query)[1] == 3



def test_workers_find_waiting_jobs_by_index_however_many_jobs_ended(database):
    """The claim query searches (state, created) rather than walking every Job in order (migration 7)."""
    if _postgres(database):
        pytest.skip("SQLite's plan only: PostgreSQL's planner scans a table this small whatever its indexes")
    migrations.migrate(database)
    model = db.model_for("Job")
    waiting = (model.state == "QUEUED") | ((model.state == "STOPPING") & model.worker.is_null())
    sql, params = model.select(model.id, model.state).where(waiting).order_by(model.created).limit(8).sql()
    plan = " ".join(r[3] for r in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING INDEX job_state_created (state=?)" in plan and "SCAN" not in plan, plan
