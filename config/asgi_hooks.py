"""ASGI middleware: a request to `/hooks/...` (webhook, chat and payment intake) is served
through Django's synchronous request handler, in one hop to the request's thread.

Django's ASGIHandler runs the same middleware chain asynchronously: every synchronous
middleware step, the view and the request_started/request_finished signals each hop to the
request thread and back (~1.6 ms of CPU a request). Here the body is read in the event loop
(after BodyLimit), and everything else runs on the request thread in one go, with the same
pieces Django uses: request_started, ASGIRequest, the whole MIDDLEWARE chain and URL
resolution (BaseHandler.get_response: error handlers, logging), and request_finished with
the response's close (the database connection is closed or given back to the pool as
before). The response is then sent from the event loop as Django's ASGIHandler sends it.

What differs: the response is closed (request_finished) just before it is sent instead of
just after, and a client that disconnects while its hook runs is not noticed until the
answer is sent (the view ran to its end in either case)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import set_script_prefix

PREFIX = "/hooks/"


class HookRequests:
    def __init__(self, app: ASGIHandler):
        self.app = app  # Django's ASGI handler: every other request, and its body/send parts
        self.handler = BaseHandler()
        self.handler.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            return await self.app(scope, receive, send)
        try:
            body_file = await self.app.read_body(receive)
        except RequestAborted:
            return
        response = await sync_to_async(self.respond, thread_sensitive=True)(scope, body_file)
        await self.app.send_response(response, send)
        if response.streaming:  # its content is produced while sending: closed afterwards
            await sync_to_async(response.close, thread_sensitive=True)()

    def respond(self, scope, body_file):
        """On the request thread: what ASGIHandler.handle does between reading the body and
        sending the response, synchronously."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=ASGIHandler, scope=scope)
            request, response = self.app.create_request(scope, body_file)
            if request is not None:
                response = self.handler.get_response(request)
                response._handler_class = ASGIHandler  # the sender of request_finished
            if not response.streaming:
                response.close()  # request_finished
            return response
        finally:
            body_file.close()
