"""Zapier: a Zap that starts with "Webhooks by Zapier > Catch Hook" has a hook URL
(`https://hooks.zapier.com/hooks/catch/<account>/<hook>/`). POSTing JSON to it always
answers `{"status": "success", "id", "request_id", "attempt"}` once the hook is queued, so
the Zap's outcome can only come back by callback: we send `callback_url` in the payload
and the Zap's last step ("Webhooks by Zapier > POST") posts its result there.

The connection's base URL is the hook URL (a node's `workflow` may give another hook URL
instead). Listing Zaps needs Zapier's partner Workflow API and is off here.
"""

from __future__ import annotations

from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import ACCEPTED, REF_HEADER, ExecuteRequest, Execution, ProviderAdapter, adapter

TEST_PAYLOAD = {"switchyard_test": True, "message": "Test webhook from Switchyard"}


@adapter
class ZapierAdapter(ProviderAdapter):
    name = "zapier"
    label = "Zapier"
    credential_fields = ()
    default_wait = "callback"
    base_url_help = "the Zap's Catch Hook URL, e.g. https://hooks.zapier.com/hooks/catch/123/abc/"
    can_list = False
    can_poll = False

    def _hook(self, workflow: str | None) -> str:
        url = workflow if workflow and str(workflow).startswith(("http://", "https://")) else ""
        url = url or self.connection.base_url
        if not url:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                "no Zapier hook URL: set the connection's base_url (or the node's workflow) to the "
                "Zap's Catch Hook URL (Zapier: Webhooks by Zapier > Catch Hook > copy the URL)",
                retryable=False,
            )
        return url

    def test_connection(self) -> None:
        """ "Test webhook": post a marked test payload; a 2xx answer means the hook exists."""
        self._post(self._hook(None), dict(TEST_PAYLOAD), timeout_s=self.client.timeout_s)

    def _post(self, url: str, data: Any, *, timeout_s: float, reference: str = "") -> Any:
        headers = {REF_HEADER: reference} if reference else None  # the Zap can read it back
        try:
            return self.client.post(url, json_body=data, headers=headers, timeout_s=timeout_s).body
        except NodeError as exc:
            if exc.details.get("status") in (404, 410):
                exc.message = (
                    "Zapier does not know this hook URL: turn the Zap on and copy the URL of its "
                    "Catch Hook trigger again"
                )
                exc.args = (exc.message,)
                exc.retryable = False
            raise

    def execute(self, request: ExecuteRequest) -> Execution:
        payload = request.data if isinstance(request.data, dict) else {"data": request.data}
        if request.callback_url:
            payload = {**payload, "callback_url": request.callback_url}
        answer = self._post(
            self._hook(request.workflow), payload, timeout_s=request.timeout_s, reference=request.reference
        )
        answer = answer if isinstance(answer, dict) else {"body": answer}
        execution_id = answer.get("request_id") or answer.get("id")
        return Execution(
            ACCEPTED, str(execution_id) if execution_id else None, answer, None, answer.get("status")
        )
