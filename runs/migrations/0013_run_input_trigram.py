"""Search of the executions page by text in a run's input: on PostgreSQL a trigram index on
the input's text (the expression the search filters on), so any part of it is found
without reading every run. SQLite has none: the search reads a bounded window of the
newest runs instead (runs.executions.search_window)."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS run_input_trgm ON runs_workflowrun "
    "USING gin ((UPPER((input)::text)) gin_trgm_ops)",
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS run_input_trgm", params=None)


class Migration(migrations.Migration):
    dependencies = [("runs", "0012_node_day_stats")]

    operations = [migrations.RunPython(install, uninstall)]
