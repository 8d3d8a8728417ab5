"""PostgreSQL: the node-row triggers of the per-day statistics (0012) run once per
statement, over the statement's changed rows (transition tables), instead of once per row.
A statement that inserts or deletes many node rows (a retention prune, a workflow deleted
with its history) then adds one change per (workflow, day, node); per row, every change
to the same statistics row within one transaction left a version that the next one had
to step over. SQLite keeps its row triggers (it updates rows in place)."""

import importlib

from django.db import migrations

stats = importlib.import_module("runs.migrations.0012_node_day_stats")
VENDOR = "postgresql"


def changed(rows: str, sign: str) -> str:
    """Add (1) or take away (-1) the transition table `rows`, of finished runs only."""
    day = stats.day(VENDOR, "r")
    return (
        f"INSERT INTO runs_nodedaystat ({stats.COLUMNS}) "
        f"SELECT r.workflow_id, {day}, {rows}.node_id, {stats.amounts(VENDOR, rows, sign, total=True)} "
        f"FROM {rows} JOIN runs_workflowrun r ON r.id = {rows}.run_id "
        f"WHERE r.status IN {stats.TERMINAL} AND {rows}.status <> 'skipped' "
        f"GROUP BY r.workflow_id, {day}, {rows}.node_id ORDER BY 1, 2, 3 {stats.ADD};"
    )


CREATE = [
    f"""CREATE FUNCTION runs_nodedaystat_nodes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    {changed("old_rows", "-1")}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    {changed("new_rows", "1")}
  END IF;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER runs_nodedaystat_nodes_insert AFTER INSERT ON runs_nodeexecution "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION runs_nodedaystat_nodes()",
    "CREATE TRIGGER runs_nodedaystat_nodes_update AFTER UPDATE ON runs_nodeexecution "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION runs_nodedaystat_nodes()",
    "CREATE TRIGGER runs_nodedaystat_nodes_delete AFTER DELETE ON runs_nodeexecution "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION runs_nodedaystat_nodes()",
]
PER_ROW = [
    "DROP TRIGGER IF EXISTS runs_nodedaystat_node_insert ON runs_nodeexecution",
    "DROP TRIGGER IF EXISTS runs_nodedaystat_node_update ON runs_nodeexecution",
    "DROP TRIGGER IF EXISTS runs_nodedaystat_node_delete ON runs_nodeexecution",
    "DROP FUNCTION IF EXISTS runs_nodedaystat_node()",
]
PER_STATEMENT = [
    "DROP TRIGGER IF EXISTS runs_nodedaystat_nodes_insert ON runs_nodeexecution",
    "DROP TRIGGER IF EXISTS runs_nodedaystat_nodes_update ON runs_nodeexecution",
    "DROP TRIGGER IF EXISTS runs_nodedaystat_nodes_delete ON runs_nodeexecution",
    "DROP FUNCTION IF EXISTS runs_nodedaystat_nodes()",
]


def per_statement(apps, schema_editor):
    if schema_editor.connection.vendor == VENDOR:
        for sql in PER_ROW + CREATE:
            schema_editor.execute(sql, params=None)


def per_row(apps, schema_editor):
    if schema_editor.connection.vendor == VENDOR:
        for sql in PER_STATEMENT + [
            s for s in stats.postgresql() if "runs_nodedaystat_node" in s.split("(")[0]
        ]:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("runs", "0014_nested_loop_iterations")]

    operations = [migrations.RunPython(per_statement, per_row)]
