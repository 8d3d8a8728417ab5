"""S3 and S3-compatible object storage through boto3. The credential's `url` is
`s3://bucket/prefix`; `endpoint_url` points at a compatible server (MinIO, moto, …);
`access_key_id`, `secret_access_key` and `region` sign the requests. The pooled object is a
boto3 client (thread-safe, with its own HTTP connection pool)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from workflows.engine.errors import ErrorCategory, NodeError

from . import files
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, pin_urllib3, tls_min_version
from .web import ca_file


class _S3Connection:
    def __init__(self, client, bucket: str, prefix: str):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def close(self) -> None:
        self.client.close()


@register_adapter
class S3Adapter(Adapter):
    id = "s3"
    name = "S3"
    description = "Amazon S3 and S3-compatible storage through boto3"
    family = "file"
    protocols = ("s3",)
    default_port = 443
    operations = files.OPERATIONS

    def validate_connection_config(self, settings: ConnectionSettings) -> list[str]:
        problems = [] if settings.scheme == "s3" else ["data.url must be s3://bucket[/prefix]"]
        if not settings.host:
            problems.append("data.url must name a bucket (s3://bucket)")
        endpoint = settings.field("endpoint_url")
        if endpoint and urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
            problems.append("data.endpoint_url must be an http(s):// URL")
        return problems

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        endpoint = settings.field("endpoint_url")
        if endpoint:
            parts = urllib.parse.urlsplit(endpoint)
            return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        region = settings.field("region", "us-east-1")
        return f"s3.{region}.amazonaws.com", 443

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _S3Connection:
        host, port = self.target(settings)
        address = checked_address(host, port, allow_private=limits.allow_private)
        verify: Any = settings.tls.verify
        if settings.tls.ca_bundle:
            verify = ca_file(settings.tls.ca_bundle)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.field("endpoint_url"),
            region_name=settings.field("region", "us-east-1"),
            aws_access_key_id=settings.field("access_key_id"),
            aws_secret_access_key=settings.field("secret_access_key"),
            verify=verify,
            config=botocore.config.Config(
                connect_timeout=max(1, min(limits.timeout_s, 30)),
                read_timeout=max(1, limits.timeout_s),
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )
        manager = client._endpoint.http_session._manager  # noqa: SLF001
        # Every connection the client opens goes to the address checked above ...
        pin_urllib3(manager, host, address)
        minimum = tls_min_version(settings.tls)
        if minimum is not None:  # ... and speaks at least the connection's TLS version
            manager.connection_pool_kw["ssl_context"].minimum_version = minimum
        prefix = settings.path.strip("/")
        return _S3Connection(client, settings.host or "", f"{prefix}/" if prefix else "")

    def execute(
        self, connection: _S3Connection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        client, bucket = connection.client, connection.bucket
        if operation == "list":
            prefix = connection.prefix + str(params.get("path") or "").lstrip("/")
            answer = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
            entries = [
                {
                    "name": item["Key"][len(prefix) :].lstrip("/") or item["Key"],
                    "path": item["Key"],
                    "size": item["Size"],
                    "is_dir": False,
                    "modified": item["LastModified"].isoformat(),
                }
                for item in answer.get("Contents", [])
            ]
            return OperationResult({"path": prefix, "entries": entries}, messages=len(entries))
        key = files.remote_path("/" + connection.prefix, params).lstrip("/")
        if operation == "upload":
            data = files.content_bytes(params, limits)
            client.put_object(Bucket=bucket, Key=key, Body=data)
            return OperationResult({"path": key, "bytes": len(data)}, bytes=len(data))
        if operation == "download":
            cap = files.max_bytes(params, limits)
            answer = client.get_object(Bucket=bucket, Key=key)
            if answer.get("ContentLength", 0) > cap:
                answer["Body"].close()
                raise files.too_big(answer["ContentLength"], cap, "file")
            data = answer["Body"].read(cap + 1)
            answer["Body"].close()
            if len(data) > cap:
                raise files.too_big(len(data), cap, "file")
            return OperationResult(files.read_output(key, data, params), bytes=len(data))
        client.head_object(Bucket=bucket, Key=key)  # S3 deletes a missing key silently; we say so
        client.delete_object(Bucket=bucket, Key=key)
        return OperationResult({"path": key, "deleted": True})

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            details = {"code": code, "status": status}
            if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                return NodeError(
                    ErrorCategory.INTEGRATION_ERROR, f"not found: {code}", details, retryable=False
                )
            if status in (401, 403) or code in (
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "AccessDenied",
            ):
                return NodeError(
                    ErrorCategory.AUTHENTICATION_ERROR, f"S3 refused: {code}", details, retryable=False
                )
            if status == 503 or code == "SlowDown":
                return NodeError(ErrorCategory.SERVICE_UNAVAILABLE, f"S3 is busy: {code}", details)
            if status == 429:
                return NodeError(ErrorCategory.RATE_LIMIT_ERROR, f"S3 rate limit: {code}", details)
            return NodeError(
                ErrorCategory.INTEGRATION_ERROR, f"S3 error {code}: {error.get('Message', '')}", details
            )
        if isinstance(exc, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, f"S3 did not answer in time: {exc}")
        if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not reach S3: {exc}")
        if isinstance(
            exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
        ):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR, "the credential lacks S3 keys", retryable=False
            )
        return categorize_common(exc)
