"""Seal the secrets typed into connector configs already stored in plain text (see
`connectors.secrets`); already sealed values are kept."""

from django.db import migrations


def seal_stored(apps, schema_editor):
    from connectors.secrets import sealed

    for connector in apps.get_model("connectors", "Connector").objects.all().iterator():
        config = sealed(connector.config, previous=connector.config)
        if config != connector.config:
            connector.config = config
            connector.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [("connectors", "0004_integration_operations")]

    operations = [migrations.RunPython(seal_stored, migrations.RunPython.noop, elidable=True)]
