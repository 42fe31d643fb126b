"""docs/operations.md is the table the code produces (scripts/operations_table.py)."""
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "operations_table.py"


def test_the_committed_table_is_what_the_code_offers():
    script = runpy.run_path(str(SCRIPT))
    assert script["DOC"].read_text() == script["render"](), "run scripts/operations_table.py"


def test_the_table_shows_what_clients_look_for():
    text = runpy.run_path(str(SCRIPT))["render"]()
    machine = text.split("## Machine\n")[1].split("##")[0]
    assert "| capture | STARTED, STOPPED, PAUSED |" in machine
    assert "| delete | CREATING," in machine
    for kind in ("Volume", "Network", "MachineImage"):
        assert "| delete | CREATING," in text.split(f"## {kind}\n")[1].split("##")[0]
