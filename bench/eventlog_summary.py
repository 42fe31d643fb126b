"""Benchmark: an EventLog's `summary` (its Events counted by severity, computed at each read) at 1,000 and 100,000 Events.

The count runs off the (parent, severity, ...) index of migration 11, so it
grows with the log: this measures by how much, on SQLite, through the store's
own writer (`cimi.store.events.append`) and reader (`summary`). Prints the
median and p90 of 30 reads per size and the load average.

    .venv/bin/python bench/eventlog_summary.py
"""
import os
import statistics
import tempfile
import time

from cimi import kinds, store
from cimi.store import events, migrations

READS = 30


def measure(size):
    folder = tempfile.mkdtemp(prefix="cimi-bench-summary-")
    database = store.open_database(f"sqlite:///{folder}/bench.sqlite3")
    migrations.migrate(database)
    logs = [("bench-log", None, "provider", None, "benchmark")]
    with store.transaction():
        for i in range(size):
            events.append(events.ACCESS, {"operation": "sign-in"}, logs, severity="medium" if i % 10 == 0 else "low")
    database.execute_sql("ANALYZE")
    times = []
    for _ in range(READS):
        start = time.perf_counter()
        counted = events.summary("bench-log")
        times.append(time.perf_counter() - start)
    database.close()
    assert sum(counted.values()) == size, counted
    return statistics.median(times) * 1000, sorted(times)[int(READS * 0.9) - 1] * 1000


def main():
    kinds.load_all()
    for size in (1000, 100_000):
        median, p90 = measure(size)
        print(f"{size:>7} Events: median {median:.2f} ms, p90 {p90:.2f} ms (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
