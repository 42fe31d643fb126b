"""Render docs/operations.md: for each kind, which states offer each operation.

The table comes from the code itself: every state a kind's schema allows is
given to `represent.operations`, the one function that builds the
`operations` a client reads. `--check` fails when the committed doc differs
(tests/interop/test_operations_doc.py runs it).

    .venv/bin/python scripts/operations_table.py [--check]
"""
import sys
from pathlib import Path

from cimi import kinds, registry, represent
from cimi.context import Context

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
BASE = "http://cloud/cimi/"
HEADER = """# Operations by state

What each resource lists in its `operations` (DSP0263 4.2), by the resource's state, for
its owner or an administrator; anything not listed answers `409`. Generated from the code by
`scripts/operations_table.py` (a test checks this file is current); do not edit by hand.
"""


# What the hypervisor still holds of a resource in ERROR decides what it offers
# (cimi/kinds/machine.py `_offered_in_error`); a state whose offers differ is listed per case.
VARIANTS = (("domain gone", {}), ("domain defined", {"_domain": "inactive"}),
            ("domain running", {"_domain": "active"}))


def _name(rel):
    return rel.rsplit("/", 1)[-1].rsplit(":", 1)[-1]     # CIMI action URIs and our extension URNs


def render():
    kinds.load_all()
    ctx = Context(user=None, base=BASE, cloud=None)
    out = [HEADER]
    for kind in sorted(registry.all_kinds(), key=lambda k: k.name):
        states = kind.schema["properties"].get("state", {}).get("enum")
        if not states or not (kind.actions or kind.deletable_states or kind.editable):
            continue
        offered = {}                                   # operation -> {state: labels of the cases offering it}
        for state in states:
            for label, data in VARIANTS:
                row = {"id": "x", "parent": "p" if kind.parent else None, "owner": None, "state": state, "data": data}
                for op in represent.operations(ctx, kind, row):
                    offered.setdefault(_name(op["rel"]), {}).setdefault(state, []).append(label)
        out.append(f"\n## {kind.name}\n\n| operation | offered in |\n|---|---|\n")
        every = len(VARIANTS)
        for op, cases in offered.items():
            where = [s if len(labels) == every else ", ".join(f"{s} ({label})" for label in labels)
                     for s, labels in cases.items()]
            whole = len(cases) == len(states) and all(len(labels) == every for labels in cases.values())
            out.append(f"| {op} | {'every state' if whole else ', '.join(where)} |\n")
        never = [s for s in states if not any(s in cases for cases in offered.values())]
        if never:
            out.append(f"| (none) | {', '.join(never)} |\n")
    return "".join(out)


def main(argv):
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale; run scripts/operations_table.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
