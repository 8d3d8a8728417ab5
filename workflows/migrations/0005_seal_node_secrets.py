"""Seal the secrets typed into HTTP request configs already stored in plain text (node
types' `secret_fields`), as 0004 did for trigger secrets; already sealed values are kept."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from importlib import import_module

    import_module("workflows.migrations.0004_seal_trigger_secrets").seal_stored(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0004_seal_trigger_secrets")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
