"""Indexes that another index already serves are dropped: each was written on every insert
(and, for a run, on every status change) and served no query that a composite index leading
with the same column does not serve as well. A run's node rows, log lines and events, and a
workspace's or workflow's runs, are found through the composite indexes (uniq_node_execution_path,
log_run_level, event_run_seq, event_workflow_seq, run_workspace_*, run_workflow_*), and so are
the foreign-key checks of deletes.

Only the indexes are dropped, by name (the same on SQLite and PostgreSQL): altering the fields
themselves would rebuild SQLite's tables, and with them lose the statistics triggers on them,
and re-check every foreign key on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [
    ("nodeexec_run_node", "runs_nodeexecution", '"run_id", "node_id"'),
    ("runs_nodeexecution_run_id_40e3e14d", "runs_nodeexecution", '"run_id"'),
    ("runs_executionlog_run_id_0e2e0878", "runs_executionlog", '"run_id"'),
    ("runs_runevent_run_id_8bd13aa7", "runs_runevent", '"run_id"'),
    ("runs_runevent_workflow_id_c1914701", "runs_runevent", '"workflow_id"'),
    ("runs_workflowrun_workflow_id_09b3d902", "runs_workflowrun", '"workflow_id"'),
    ("runs_workflowrun_workspace_id_e17c17cf", "runs_workflowrun", '"workspace_id"'),
]


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0019_node_day_stats_runs_by_key"),
        ("workflows", "0007_seal_url_query_secrets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ({columns})'
                )
                for name, table, columns in DROPPED
            ],
            state_operations=[
                migrations.RemoveIndex(
                    model_name="nodeexecution",
                    name="nodeexec_run_node",
                ),
                migrations.AlterField(
                    model_name="executionlog",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="logs",
                        to="runs.workflowrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="nodeexecution",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="node_executions",
                        to="runs.workflowrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="runevent",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="runs.workflowrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="runevent",
                    name="workflow_id",
                    field=models.UUIDField(),
                ),
                migrations.AlterField(
                    model_name="workflowrun",
                    name="workflow",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="workflows.workflow",
                    ),
                ),
                migrations.AlterField(
                    model_name="workflowrun",
                    name="workspace",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="workflows.workspace",
                    ),
                ),
            ],
        )
    ]
