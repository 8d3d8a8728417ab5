"""`python -m config.web_server [daphne arguments]`: daphne, with every refusal at the HTTP layer
answered in the API's JSON error shape.

Below the ASGI application, twisted's HTTP parser refuses some requests itself, and by default
answers an empty `400` (too many headers, headers too large in total, a malformed header or
chunk) or drops the connection without a word (one line longer than 16 KiB). Here:

- too many header lines (`MAX_REQUEST_HEADERS`) or too many header bytes
  (`MAX_REQUEST_HEADER_BYTES`, one line or all of them) → `431` JSON;
- a request line longer than that → `414` JSON;
- a body over `MAX_REQUEST_BODY_BYTES` (declared, or counted as a chunked body arrives) → `413`
  JSON, before it is all buffered;
- any other malformed request → `400` JSON;
- twisted no longer parses `multipart/form-data` bodies itself (it answered a malformed one with
  an empty 400): Django parses them, and a bad one gets the API's answer.

The access log writes each request's path with its query string masked like stored URLs: a
credential-named parameter (`?token=`, `?api_key=`, …) is `***`; a trigger URL token
(`/hooks/<token>`) keeps its first four characters.

The answer is written, then the connection is half-closed and the rest of what the client sends
is read and discarded for a moment, so the client reads the answer instead of a reset."""

from __future__ import annotations

import json
import sys

from daphne import cli as _daphne_cli
from daphne import server as _daphne_server  # noqa: F401 - installs daphne's asyncio reactor first
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from twisted.web import http

from config.log_format import mask_hook_tokens
from workflows.engine.masking import mask_url

LINGER_S = 2.0
REASONS = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


def _discard(*args, **kwargs):
    return None


def answer_and_close(channel, status: int, code: str, message: str) -> None:
    """Write one JSON error answer on `channel`, then close it without losing the answer."""
    from twisted.internet import reactor

    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n" % (status, REASONS.get(status, b"Error"), len(body))
    )
    transport = channel.transport
    if transport is None or getattr(channel, "_answered", False):
        return
    channel._answered = True
    transport.write(head + body)
    # Stop parsing: what follows is read and thrown away until the connection closes.
    channel.dataReceived = channel.lineReceived = channel.rawDataReceived = _discard
    try:
        transport.loseWriteConnection()
    except (AttributeError, NotImplementedError):
        channel.loseConnection()
        return
    reactor.callLater(LINGER_S, transport.loseConnection)


class MaskedAccessLog(AccessLogGenerator):
    """daphne's access log, with the credentials in a request's query string and trigger URL
    tokens (`/hooks/<token>`) masked."""

    def __call__(self, protocol, action, details):
        if isinstance(details.get("path"), str):
            details = {**details, "path": mask_hook_tokens(mask_url(details["path"]))}
        return super().__call__(protocol, action, details)


def install(*, max_headers: int, max_header_bytes: int, max_body_bytes: int) -> None:
    """Patch twisted's HTTP channel (in this process only) to answer as described above."""
    channel = http.HTTPChannel
    channel.maxHeaders = max_headers
    channel.totalHeadersSize = max_header_bytes
    channel.MAX_LENGTH = max_header_bytes  # one line (LineReceiver's limit)
    WebRequest._parsePOSTFormSubmission = False
    original_line, original_header = channel.lineReceived, channel.headerReceived

    def lineReceived(self, line):  # noqa: N802 - twisted's name
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            return answer_and_close(
                self, 431, "HEADERS_TOO_LARGE", f"The request's headers are over {max_header_bytes} bytes."
            )
        return original_line(self, line)

    def headerReceived(self, line):  # noqa: N802
        if self._receivedHeaderCount >= self.maxHeaders:
            answer_and_close(self, 431, "TOO_MANY_HEADERS", f"The request has over {max_headers} headers.")
            return False
        return original_header(self, line)

    def lineLengthExceeded(self, line):  # noqa: N802
        if self._HTTPChannel__first_line:
            return answer_and_close(self, 414, "URI_TOO_LONG", "The request line is too long.")
        return answer_and_close(
            self, 431, "HEADERS_TOO_LARGE", f"A request header is over {max_header_bytes} bytes."
        )

    def respond_bad_request(self):
        answer_and_close(self, 400, "BAD_REQUEST", "The request is not valid HTTP.")

    original_all_headers, original_chunk = channel.allHeadersReceived, WebRequest.handleContentChunk

    def too_large(request) -> None:
        request.process = _discard  # the body may still complete: nothing is handed to the app
        answer_and_close(
            request.channel, 413, "PAYLOAD_TOO_LARGE", f"The body is over {max_body_bytes} bytes."
        )

    def allHeadersReceived(self):  # noqa: N802
        original_all_headers(self)
        if self.length and self.length > max_body_bytes:  # a declared Content-Length: at once
            too_large(self.requests[-1])

    def handleContentChunk(self, data):  # noqa: N802 - counts chunked bodies as they arrive
        self._body_bytes = getattr(self, "_body_bytes", 0) + len(data)
        if self._body_bytes > max_body_bytes:
            return too_large(self)
        return original_chunk(self, data)

    channel.allHeadersReceived = allHeadersReceived
    WebRequest.handleContentChunk = handleContentChunk
    channel.lineReceived = lineReceived
    channel.headerReceived = headerReceived
    channel.lineLengthExceeded = lineLengthExceeded
    channel._respondToBadRequestAndDisconnect = respond_bad_request
    _daphne_cli.AccessLogGenerator = MaskedAccessLog


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    install(
        max_headers=settings.MAX_REQUEST_HEADERS,
        max_header_bytes=settings.MAX_REQUEST_HEADER_BYTES,
        max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
    )
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    sys.argv[0] = "daphne"
    main()
