"""Seal the values of credential-named query parameters written into URLs
(`https://host/x?api_key=...`) already stored in plain text, as 0006 did for the URL's
password; already sealed values are kept."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from importlib import import_module

    import_module("workflows.migrations.0004_seal_trigger_secrets").seal_stored(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0006_seal_url_and_list_secrets")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
