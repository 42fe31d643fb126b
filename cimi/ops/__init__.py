"""Operations: what each action does, run by Job workers (and the reconciliation loop).

Kinds (cimi/kinds/) declare which operation runs each action; an operation
receives the Job (payload, context, progress), reads and writes rows through
cimi/store and calls the backend. Nothing here imports cimi.kinds, cimi.crud
or cimi.http (tests/test_import_cycles.py).
"""
