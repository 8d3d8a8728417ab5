"""trigger.payment: Stripe-compatible signed events at /hooks/<token>: signature, timestamp
tolerance, filters, idempotency."""

import hashlib
import hmac
import json
import time

import pytest

from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")

SECRET = "whsec_test_5f3a9c"


def payment_workflow(api, config=None, settings=None):
    return trigger_workflow(
        api,
        {"id": "paid", "type": "trigger.payment", "config": {"secret": SECRET, **(config or {})}},
        {"cents": "{{ input.amount }}", "cur": "{{ input.currency }}"},
        settings=settings,
        name="payments",
    )


def activate(api, wid):
    return hook_path(activate_ok(api, wid), "trigger.payment")


def event(
    event_id="evt_1", type_="payment_intent.succeeded", amount=2500, currency="eur", status="succeeded"
):
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": 1700000000,
        "livemode": False,
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "amount": amount,
                "currency": currency,
                "status": status,
                "metadata": {"order": "A-17"},
            }
        },
    }


def signature(body: bytes, secret=SECRET, timestamp=None) -> tuple[int, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return timestamp, mac


def deliver(client, path, body, header=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if header is None:
        t, mac = signature(raw)
        header = f"t={t},v1={mac}"
    extra = {} if header == "" else {"HTTP_STRIPE_SIGNATURE": header}
    return client.post(path, raw, content_type="application/json", **extra)


def test_a_signed_event_starts_a_live_run_with_the_payment_payload(api, client):
    path = activate(api, payment_workflow(api))
    res = deliver(client, path, event())
    assert res.status_code == 202, res.content
    run = WorkflowRun.objects.get(pk=res.json()["run_id"])
    assert run.mode == "live" and run.trigger_type == "trigger.payment" and run.status == "completed"
    assert run.input == {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "created": 1700000000,
        "livemode": False,
        "amount": 2500,
        "currency": "eur",
        "status": "succeeded",
        "object": event()["data"]["object"],
    }
    assert run.output == {"cents": 2500, "cur": "eur"}


def test_a_tampered_body_is_refused(api, client):
    path = activate(api, payment_workflow(api))
    raw = json.dumps(event()).encode()
    t, mac = signature(raw)
    res = deliver(client, path, raw.replace(b"2500", b"9900"), f"t={t},v1={mac}")
    assert res.status_code == 400
    assert res.json()["error"] == {
        "code": "SIGNATURE_INVALID",
        "details": {},
        "message": "No v1 signature matches the body and the trigger's signing secret.",
    }
    assert WorkflowRun.objects.count() == 0


def test_a_signature_made_with_another_secret_is_refused(api, client):
    path = activate(api, payment_workflow(api))
    raw = json.dumps(event()).encode()
    t, mac = signature(raw, secret="whsec_someone_else")
    assert deliver(client, path, raw, f"t={t},v1={mac}").status_code == 400
    assert (
        deliver(client, path, raw, "").json()["error"]["message"] == "The Stripe-Signature header is missing."
    )
    assert deliver(client, path, raw, f"v1={mac}").status_code == 400
    assert WorkflowRun.objects.count() == 0


# Clear of the 300 s boundary: the signing and the check are a moment (and a truncated second) apart.
@pytest.mark.parametrize("skew", [-330, 330, 86400])
def test_a_stale_or_future_timestamp_is_refused_even_when_signed(api, client, skew):
    path = activate(api, payment_workflow(api))
    raw = json.dumps(event()).encode()
    t, mac = signature(raw, timestamp=int(time.time()) - skew)
    res = deliver(client, path, raw, f"t={t},v1={mac}")
    assert res.status_code == 400 and res.json()["error"]["code"] == "SIGNATURE_INVALID"
    assert "tolerance is 300 s" in res.json()["error"]["message"]
    assert WorkflowRun.objects.count() == 0


def test_tolerance_is_configurable(api, client):
    path = activate(api, payment_workflow(api, {"tolerance_s": 3600}))
    raw = json.dumps(event()).encode()
    t, mac = signature(raw, timestamp=int(time.time()) - 1800)
    assert deliver(client, path, raw, f"t={t},v1={mac}").status_code == 202


def test_any_of_several_v1_signatures_may_match(api, client):
    path = activate(api, payment_workflow(api))
    raw = json.dumps(event()).encode()
    t, mac = signature(raw)
    _, old = signature(raw, secret="whsec_rolled_out")
    assert deliver(client, path, raw, f"t={t},v1={old},v1={mac},v0=ignored").status_code == 202


@pytest.mark.parametrize(
    ("config", "sent", "reason"),
    [
        ({"events": ["charge.*"]}, {}, "payment_intent.succeeded events are not selected"),
        ({"currency": "USD"}, {}, "currency eur is not selected"),
        ({"currency": ["usd", "gbp"]}, {"currency": "GBP"}, None),
        ({"min_amount": 5000}, {}, "amount 2500 is below 5000"),
        ({"max_amount": 1000}, {}, "amount 2500 is above 1000"),
        ({"min_amount": 1000, "max_amount": 2500}, {}, None),
        (
            {"status": ["succeeded"]},
            {"status": "requires_payment_method"},
            "status requires_payment_method is not selected",
        ),
        ({"events": ["payment_intent.succeeded", "charge.refunded"]}, {"type_": "charge.refunded"}, None),
    ],
)
def test_filters_on_event_type_currency_amount_and_status(api, client, config, sent, reason):
    path = activate(api, payment_workflow(api, config))
    res = deliver(client, path, event(**sent))
    if reason is None:
        assert res.status_code == 202
        assert WorkflowRun.objects.count() == 1
    else:
        assert (res.status_code, res.json()) == (200, {"ignored": reason})
        assert WorkflowRun.objects.count() == 0


def test_a_redelivered_event_id_returns_the_first_run(api, client):
    path = activate(api, payment_workflow(api))
    first = deliver(client, path, event("evt_dup"))
    again = deliver(client, path, event("evt_dup"))  # signed again, a moment later, as providers do
    assert first.status_code == again.status_code == 202
    assert first.json()["run_id"] == again.json()["run_id"]
    assert WorkflowRun.objects.count() == 1
    assert deliver(client, path, event("evt_other")).json()["run_id"] != first.json()["run_id"]


def test_only_an_active_workflow_takes_events(api, client):
    wid = payment_workflow(api)
    path = activate(api, wid)
    api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    res = deliver(client, path, event())
    assert res.status_code == 404 and res.json()["error"]["code"] == "NOT_FOUND"
    assert WorkflowRun.objects.count() == 0


def test_a_signed_body_that_is_not_an_event_is_400_naming_the_field(api, client):
    path = activate(api, payment_workflow(api))
    res = deliver(client, path, {"id": "evt_1", "type": "charge.succeeded", "data": {}})
    assert res.status_code == 400
    assert res.json()["error"]["details"] == {"data.object": ["data.object must be an object."]}
    assert deliver(client, path, b"not json").json()["error"]["code"] == "PARSE_ERROR"


def test_the_signing_secret_can_be_a_workspace_credential(api, client):
    api.post("/api/v1/credentials/", {"name": "stripe_hook", "data": {"secret": SECRET}}, format="json")
    path = activate(api, payment_workflow(api, {"secret": "{{ workspace.stripe_hook }}"}))
    assert deliver(client, path, event()).status_code == 202


def test_activation_needs_a_signing_secret_and_sane_filters(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "nodes": [
            {"id": "paid", "type": "trigger.payment", "config": {"min_amount": 500, "max_amount": 100}}
        ],
        "edges": [],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    assert res.json()["error"]["details"]["errors"] == [
        {"node": "paid", "edge": None, "field": "config.secret", "message": "'secret' is required"}
    ]
    doc["nodes"][0]["config"]["secret"] = SECRET
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.json()["error"]["details"]["errors"] == [
        {
            "node": "paid",
            "edge": None,
            "field": "config.max_amount",
            "message": "max_amount (100) is below min_amount (500)",
        }
    ]
