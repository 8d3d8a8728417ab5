"""PostgreSQL: the per-statement node-row triggers of the per-day statistics (0015) find each
changed row's run by its key. They joined the changed rows to `runs_workflowrun` by a plain
join, and with the few rows of a transition table the planner chose to read the whole runs
table (a sequential scan, hashed): every run's node insert cost a little more with each run
stored. Each row's run is now one primary-key lookup (a lateral subquery the planner keeps
as it is written), whatever the statistics say."""

import importlib

from django.db import migrations

stats = importlib.import_module("runs.migrations.0012_node_day_stats")
per_statement = importlib.import_module("runs.migrations.0015_node_day_stats_per_statement")
VENDOR = "postgresql"


def changed(rows: str, sign: str) -> str:
    """Add (1) or take away (-1) the transition table `rows`, of finished runs only."""
    day = stats.day(VENDOR, "r")
    return (
        f"INSERT INTO runs_nodedaystat ({stats.COLUMNS}) "
        f"SELECT r.workflow_id, {day}, {rows}.node_id, {stats.amounts(VENDOR, rows, sign, total=True)} "
        f"FROM {rows} CROSS JOIN LATERAL (SELECT workflow_id, created_at, status FROM runs_workflowrun "
        f"WHERE id = {rows}.run_id OFFSET 0) r "
        f"WHERE r.status IN {stats.TERMINAL} AND {rows}.status <> 'skipped' "
        f"GROUP BY r.workflow_id, {day}, {rows}.node_id ORDER BY 1, 2, 3 {stats.ADD};"
    )


def function(changed) -> str:
    return f"""CREATE OR REPLACE FUNCTION runs_nodedaystat_nodes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    {changed("old_rows", "-1")}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    {changed("new_rows", "1")}
  END IF;
  RETURN NULL;
END $$"""


def by_key(apps, schema_editor):
    if schema_editor.connection.vendor == VENDOR:
        schema_editor.execute(function(changed), params=None)


def by_join(apps, schema_editor):
    if schema_editor.connection.vendor == VENDOR:
        schema_editor.execute(function(per_statement.changed), params=None)


class Migration(migrations.Migration):
    dependencies = [("runs", "0018_iteration_paths_of_callbacks_and_children")]

    operations = [migrations.RunPython(by_key, by_join)]
