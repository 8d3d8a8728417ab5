"""Seal the passwords written into URLs (`https://user:password@host/`) and the strings of
list-valued secret query parameters already stored in plain text, as 0004 and 0005 did for
the other typed secrets; already sealed values are kept."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from importlib import import_module

    import_module("workflows.migrations.0004_seal_trigger_secrets").seal_stored(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0005_seal_node_secrets")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
