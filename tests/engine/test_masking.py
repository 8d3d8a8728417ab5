"""Every form of a secret that we produce is masked: plain, URL-encoded, JSON-escaped,
base64 at any alignment (Basic auth), and prefixes left by truncation."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus, urlencode

import pytest

from workflows.engine import masking, outbound

SECRET = 's3cr3t/p@ss w0rd+"é"'


def _mask(text):
    return outbound.mask_secrets(text, [SECRET])


def test_basic_auth_header_and_any_base64_alignment_are_masked():
    for user in ("", "a", "ab", "abc", "admin", "someone@example.com"):
        prefix = base64.b64encode(f"{user}:".encode()).decode()
        pair = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
        masked = _mask(f"Basic {pair}")
        head, _, tail = masked.removeprefix("Basic ").partition("***")
        # only the characters that mix the user part or the padding with the password remain
        assert _ and prefix.startswith(head[:-1]) and len(head) <= len(prefix)
        assert len(tail.rstrip("=")) <= 2, masked


def test_url_encoded_json_escaped_and_html_forms_are_masked():
    for form in (
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        urlencode({"key": SECRET}),
        json.dumps({"key": SECRET}),
        json.dumps(json.dumps({"key": SECRET})),
        json.dumps({"key": SECRET}, ensure_ascii=False),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
    ):
        masked = _mask(f"before {form} after")
        assert "***" in masked, form
        assert SECRET[:8] not in masked and quote_plus(SECRET)[:8] not in masked


def test_a_truncated_secret_prefix_of_eight_or_more_characters_is_masked():
    long_secret = "sk_live_0123456789abcdefghij"
    assert outbound.mask_secrets(f"bad value {long_secret[:12]}", [long_secret]) == "bad value ***"
    assert outbound.mask_secrets(f"x{long_secret[:8]}", [long_secret]) == "x***"
    # shorter than 8 characters: not a leak we can tell from chance
    assert outbound.mask_secrets(long_secret[:7], [long_secret]) == long_secret[:7]


def test_mask_then_cut_masks_before_truncating():
    long_secret = "A" * 10 + "very-long-secret-value"
    text = f"error: {long_secret} happened"
    assert masking.mask_then_cut(text, [long_secret], 20) == "error: *** happened"
    cut = masking.mask_then_cut("x" * 30 + long_secret, [long_secret], 31, "…")
    assert long_secret[:8] not in cut


def test_dict_keys_are_masked_and_other_values_untouched():
    assert outbound.mask_secrets({SECRET: 5, "n": 1.5, "b": True}, [SECRET]) == {
        "***": 5,
        "n": 1.5,
        "b": True,
    }


def test_sensitive_headers_are_masked_by_name():
    headers = {
        "Authorization": "Basic eDp5",
        "Proxy-Authorization": "x",
        "Cookie": "a=b",
        "X-Api-Key": "k",
        "X-Webhook-Token": "t",
        "X-Custom": "keep",
        "Content-Type": "application/json",
    }
    assert masking.mask_headers(headers, extra=["x-custom"]) == {
        "Authorization": "***",
        "Proxy-Authorization": "***",
        "Cookie": "***",
        "X-Api-Key": "***",
        "X-Webhook-Token": "***",
        "X-Custom": "***",
        "Content-Type": "application/json",
    }


def test_signature_and_auth_headers_are_masked_by_the_one_shared_rule():
    """Callback receipts, webhook inputs and HTTP node outputs all use this rule: a signed
    callback's signature and an `X-Auth` header are credentials too."""
    headers = {
        "X-Switchyard-Signature": "sha256=abc",
        "X-Hub-Signature-256": "sha256=def",
        "X-Auth": "u:p",
        "X-Amz-Sig": "s",
        "key": "k",
        "X-Author": "keep",
        "Monkey": "keep",
        "Idempotency-Token": "t",
        "X-Access-Key": "a",
        "Ocp-Apim-Subscription-Key": "s",
        "Idempotency-Key": "keep",
        "X-Cache-Key": "keep",
    }
    assert masking.mask_headers(headers) == {
        "X-Switchyard-Signature": "***",
        "X-Hub-Signature-256": "***",
        "X-Auth": "***",
        "X-Amz-Sig": "***",
        "key": "***",
        "X-Author": "keep",
        "Monkey": "keep",
        "Idempotency-Token": "***",
        "X-Access-Key": "***",
        "Ocp-Apim-Subscription-Key": "***",
        "Idempotency-Key": "keep",
        "X-Cache-Key": "keep",
    }


def test_callbacks_store_headers_through_the_shared_masker():
    from runs import callbacks

    assert not hasattr(callbacks, "mask_headers")  # one implementation: workflows.engine.masking


@pytest.mark.parametrize(
    ("url", "password", "masked"),
    [
        ("https://user:s3cret@api.example/x", "s3cret", "https://user:***@api.example/x"),
        ("postgresql://app:p@ss-w0rd@db:6543/sales", "p@ss-w0rd", "postgresql://app:***@db:6543/sales"),
        ("ftp://:pw%2Fx@host/", "pw%2Fx", "ftp://:***@host/"),
        ("https://host:8443/p?next=a@b", None, "https://host:8443/p?next=a@b"),
        ("https://user@host/", None, "https://user@host/"),
        ("https://user:@host/", "", "https://user:@host/"),
        ("https://user:{{ workspace.pw }}@host/", None, "https://user:{{ workspace.pw }}@host/"),
    ],
)
def test_the_password_in_a_url_userinfo_is_found_and_masked(url, password, masked):
    assert masking.url_password(url) == password
    assert masking.mask_url(url) == masked


def test_a_url_password_is_masked_as_written_and_decoded():
    assert masking.url_secrets("https://u:p%40ss-word@h/") == ["p%40ss-word", "p@ss-word"]
    assert masking.url_secrets("https://h/") == []


def test_credential_named_query_parameters_written_into_a_url_are_masked():
    url = "https://u:pw@h/x?api_key=abc&page=1&token=&access_token=d%20e#f?token=z"
    assert masking.mask_url(url) == "https://u:***@h/x?api_key=***&page=1&token=&access_token=***#f?token=z"
    assert masking.url_query_value(url, "access_token", 0) == "d%20e"
    assert masking.with_url_query_value(url, "api_key", 0, "new") == url.replace("abc", "new")
