"""Connection settings from a credential: secrets, masking, TLS options, allowlists, SQL binding."""

from __future__ import annotations

import ssl

import pytest

from connectors.adapters.base import mask_url, settings_from
from connectors.adapters.security import check_host_allowed, tls_context
from connectors.adapters.sql import bind, to_pyformat
from workflows.engine.errors import NodeError


def test_settings_list_the_password_and_secret_fields_but_not_plain_ones():
    s = settings_from(
        credential_id="1",
        credential_name="warehouse",
        data={
            "url": "postgresql://app:p%40ss-w0rd@db.example:6543/sales",
            "read_only": "true",
            "api_key": "k-123456",
        },
    )
    assert (s.scheme, s.host, s.port, s.username, s.password) == (
        "postgresql",
        "db.example",
        6543,
        "app",
        "p@ss-w0rd",
    )
    assert s.read_only and s.endpoint == "postgresql://app:***@db.example:6543/sales"
    assert "p@ss-w0rd" in s.secrets and "k-123456" in s.secrets and "true" not in s.secrets
    assert not any(secret.startswith("postgresql") for secret in s.secrets)
    assert mask_url("amqp://guest@broker/") == "amqp://guest@broker/"


def test_a_changed_credential_gets_a_new_fingerprint():
    a = settings_from(credential_id="1", credential_name="c", data={"url": "redis://h/0", "password": "one"})
    b = settings_from(credential_id="1", credential_name="c", data={"url": "redis://h/0", "password": "two"})
    assert a.fingerprint != b.fingerprint


def test_tls_options_shape_the_context():
    strict = tls_context(settings_from(credential_id="1", credential_name="c", data={"url": "x://h"}).tls)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = settings_from(
        credential_id="1",
        credential_name="c",
        data={"url": "x://h", "tls_verify": "false", "tls_min_version": "1.3"},
    )
    context = tls_context(loose.tls)
    assert context.verify_mode == ssl.CERT_NONE and context.minimum_version == ssl.TLSVersion.TLSv1_3
    bad = settings_from(
        credential_id="1", credential_name="c", data={"url": "x://h", "tls_min_version": "1.0"}
    )
    with pytest.raises(NodeError) as refused:
        tls_context(bad.tls)
    assert refused.value.category == "VALIDATION_ERROR"


def test_allowlist_patterns():
    check_host_allowed("db.corp.example", ("*.corp.example",))
    check_host_allowed("anything", ())
    with pytest.raises(NodeError) as refused:
        check_host_allowed("evil.example", ("*.corp.example", "db.internal"))
    assert refused.value.category == "CONNECTION_ERROR"


def test_named_parameters_skip_literals_comments_and_casts():
    sql, names = to_pyformat(
        "SELECT ':x', \"a:b\", 50% AS pct, :id::int -- :gone\n/* :no */ FROM t WHERE y = :y"
    )
    assert names == ("id", "y")
    assert sql == "SELECT ':x', \"a:b\", 50%% AS pct, %(id)s::int -- :gone\n/* :no */ FROM t WHERE y = %(y)s"
    assert to_pyformat("SELECT $$ :body $$, :a", backslash_escapes=False)[1] == ("a",)
    assert to_pyformat(r"SELECT 'it\'s :x', :a", backslash_escapes=True)[1] == ("a",)
    with pytest.raises(NodeError) as missing:
        bind("SELECT :a, :b", {"a": 1})
    assert missing.value.details == {"missing": ["b"]}
