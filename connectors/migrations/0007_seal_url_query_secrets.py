"""Seal the values of credential-named query parameters written into step URLs
(`https://host/x?api_key=...`) already stored in plain text, as 0006 did for the URL's
password; already sealed values are kept."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from importlib import import_module

    import_module("connectors.migrations.0005_seal_connector_secrets").seal_stored(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("connectors", "0006_seal_url_and_list_secrets")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
