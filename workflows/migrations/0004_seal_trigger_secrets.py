"""Seal the trigger secrets already stored in plain text (see `workflows.trigger_secrets`):
in every version, draft and node row."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from workflows.trigger_secrets import seal_document

    for model in ("WorkflowVersion", "WorkflowDraft"):
        for row in apps.get_model("workflows", model).objects.all().iterator():
            sealed = seal_document(row.document)
            if sealed is not row.document:
                row.document = sealed
                row.save(update_fields=["document"])
    for node in apps.get_model("workflows", "Node").objects.all().iterator():
        doc = {"nodes": [{"id": node.node_id, "type": node.type, "config": node.config}]}
        sealed = seal_document(doc)
        if sealed is not doc:
            node.config = sealed["nodes"][0]["config"]
            node.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [("workflows", "0003_workflow_draft")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
