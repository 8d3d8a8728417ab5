"""A provider connection's base_url may no longer carry a secret (a password in its userinfo
or a credential-named query parameter such as `?api_key=`): saving one is refused, and the
secret belongs in the connection's credential. Base URLs saved before that rule are cleaned
here the same way: the password and those parameters are removed from the stored URL, and
the connection is marked as an error saying what was removed and where the secret goes, so
no plain-text secret stays in the database."""

from django.db import migrations

CLEANED = (
    "Its base URL carried {what}, removed on upgrade (a base URL is stored and shown as it is): "
    "put the secret in the connection's credential and test the connection again."
)


def without_secrets(url: str) -> tuple[str, list[str]]:
    """`url` without its userinfo password and its credential-named query parameters, and
    what was removed (for the message)."""
    from workflows.engine.masking import url_password, url_query_secrets, with_url_password

    removed = []
    if url_password(url):
        url = with_url_password(url, "").replace(":@", "@", 1).replace("://@", "://", 1)
        removed.append("a password")
    names = {name for name, start, end in url_query_secrets(url)}
    if names:
        start = url.find("?")
        end = url.find("#", start)
        end = len(url) if end < 0 else end
        from urllib.parse import unquote_plus

        kept = [
            part
            for part in url[start + 1 : end].split("&")
            if not (part.partition("=")[1] and unquote_plus(part.partition("=")[0]) in names)
        ]
        query = "&".join(kept)
        url = url[:start] + (f"?{query}" if query else "") + url[end:]
        removed.append("the query parameter(s) " + ", ".join(sorted(names)))
    return url, removed


def clean_stored(apps, schema_editor):
    from workflows.engine.masking import mask_url

    ProviderConnection = apps.get_model("providers", "ProviderConnection")
    for conn in ProviderConnection.objects.exclude(base_url="").iterator():
        if mask_url(conn.base_url) == conn.base_url:
            continue
        conn.base_url, removed = without_secrets(conn.base_url)
        conn.status = "error"
        conn.last_error = CLEANED.format(what=" and ".join(removed))
        conn.save(update_fields=["base_url", "status", "last_error"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_execution_idempotency_callbacks")]

    operations = [migrations.RunPython(clean_stored, migrations.RunPython.noop, elidable=True)]
