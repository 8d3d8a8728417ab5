"""What the file-transfer adapters share: `file.upload`, `file.download`, `file.list` and
`file.delete`, paths under the connection's base (the URL's path or S3 prefix), content as
text or base64, and size caps both ways (`max_bytes`, at most the host's response limit)."""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import Limits, Operation

_PATH = {
    "type": "string",
    "minLength": 1,
    "title": "Path",
    "description": "Relative to the connection's base",
}
_ENCODING = {"type": "string", "enum": ["text", "base64"], "default": "text", "title": "Content encoding"}
_MAX = {"type": "integer", "minimum": 1, "title": "Size cap (bytes)"}
OPERATIONS = (
    Operation(
        name="upload",
        node_type="file.upload",
        label="Upload file",
        description="Write a file over SFTP, FTP or to S3; outputs {path, bytes}.",
        config_schema={
            "required": ["path"],
            "properties": {
                "path": _PATH,
                "content": {"title": "Content", "description": "Text, base64 (encoding) or JSON"},
                "encoding": _ENCODING,
                "max_bytes": _MAX,
            },
        },
        output_schema={
            "type": "object",
            "properties": {"path": {"type": "string"}, "bytes": {"type": "integer"}},
        },
        payload_key="content",
        icon="upload",
    ),
    Operation(
        name="download",
        node_type="file.download",
        label="Download file",
        description="Read a file over SFTP, FTP or from S3; outputs {path, content, encoding, bytes}.",
        config_schema={
            "required": ["path"],
            "properties": {"path": _PATH, "encoding": _ENCODING, "max_bytes": _MAX},
        },
        output_schema={
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "content": {"type": "string"},
                "encoding": {"type": "string"},
                "bytes": {"type": "integer"},
            },
        },
        icon="download",
    ),
    Operation(
        name="list",
        node_type="file.list",
        label="List files",
        description="List a directory (or S3 prefix); outputs {path, entries: [{name, path, size, is_dir}]}.",
        config_schema={"properties": {"path": {**_PATH, "minLength": 0, "default": ""}}},
        output_schema={
            "type": "object",
            "properties": {"path": {"type": "string"}, "entries": {"type": "array"}},
        },
        icon="folder",
    ),
    Operation(
        name="delete",
        node_type="file.delete",
        label="Delete file",
        description="Delete a file over SFTP, FTP or from S3; outputs {path, deleted}.",
        config_schema={"required": ["path"], "properties": {"path": _PATH}},
        output_schema={
            "type": "object",
            "properties": {"path": {"type": "string"}, "deleted": {"type": "boolean"}},
        },
        icon="trash",
    ),
)


def remote_path(base: str, params: dict[str, Any], *, required: bool = True) -> str:
    path = params.get("path", "")
    if not isinstance(path, str) or (required and not path.strip()):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "path must be a non-empty string")
    joined = posixpath.normpath(posixpath.join(base or "/", path.lstrip("/"))) if path else (base or "/")
    return joined


def max_bytes(params: dict[str, Any], limits: Limits) -> int:
    raw = params.get("max_bytes")
    if raw in (None, ""):
        return limits.max_bytes
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR, f"max_bytes must be an integer, got {raw!r}"
        ) from None
    if value < 1:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "max_bytes must be positive")
    return min(value, limits.max_bytes)


def content_bytes(params: dict[str, Any], limits: Limits) -> bytes:
    content = params.get("content", "")
    if params.get("encoding") == "base64":
        try:
            data = base64.b64decode(str(content), validate=True)
        except (binascii.Error, ValueError):
            raise NodeError(ErrorCategory.VALIDATION_ERROR, "content is not valid base64") from None
    elif isinstance(content, str):
        data = content.encode()
    else:
        data = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    cap = max_bytes(params, limits)
    if len(data) > cap:
        raise too_big(len(data), cap, "upload")
    return data


def too_big(size: int, cap: int, what: str) -> NodeError:
    return NodeError(
        ErrorCategory.VALIDATION_ERROR,
        f"the {what} is {size} bytes, over the {cap}-byte limit",
        {"bytes": size, "max_bytes": cap},
        retryable=False,
    )


def read_output(path: str, data: bytes, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("encoding") == "base64":
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    else:
        try:
            content, encoding = data.decode("utf-8"), "text"
        except UnicodeDecodeError:  # binary: say so rather than mangle it
            content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return {"path": path, "content": content, "encoding": encoding, "bytes": len(data)}


def not_found(path: str) -> NodeError:
    return NodeError(ErrorCategory.INTEGRATION_ERROR, f"no file at {path!r}", {"path": path}, retryable=False)
