"""`graphql.query`, `soap.call` and `grpc.call` against local GraphQL, SOAP and gRPC servers."""

from __future__ import annotations

import pytest

from .api_servers import GraphqlServer, GrpcServer, SoapServer
from .helpers import make_credential, node_of, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")


@pytest.fixture
def graphql_server():
    server = GraphqlServer()
    yield server
    server.close()


@pytest.fixture
def soap_server():
    server = SoapServer()
    yield server
    server.close()


@pytest.fixture
def grpc_server():
    server = GrpcServer()
    yield server
    server.close()


def test_graphql_query_and_mutation_with_variables(api, graphql_server):
    cred = unique("gql")
    make_credential(api, cred, {"url": graphql_server.url, "token": "gql-token-Q7"})
    run = run_nodes(
        api,
        [
            {
                "id": "add",
                "type": "graphql.query",
                "config": {
                    "credential": cred,
                    "query": "mutation Add($t: String!) { addBook(title: $t) { id title } }",
                    "variables": {"t": "{{ input.title }}"},
                },
            },
            {
                "id": "get",
                "type": "graphql.query",
                "config": {
                    "credential": cred,
                    "query": "query Get($id: Int!) { book(id: $id) { title } }",
                    "variables": {"id": "{{ nodes.add.data.addBook.id }}"},
                },
            },
        ],
        {"title": "Solaris"},
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert node_of(run, "add")["output"] == {"data": {"addBook": {"id": 2, "title": "Solaris"}}}
    assert run["output"] == {"data": {"book": {"title": "Solaris"}}}
    assert "gql-token-Q7" not in str(run)


def test_graphql_errors_are_an_integration_error(api, graphql_server):
    cred = unique("gql")
    make_credential(api, cred, {"url": graphql_server.url, "token": "gql-token-Q7"})
    run = run_nodes(
        api, [{"id": "q", "type": "graphql.query", "config": {"credential": cred, "query": "{ secret }"}}]
    )
    error = node_of(run, "q")["error"]
    assert error["category"] == "INTEGRATION_ERROR" and "not for you" in error["message"]
    assert error["details"]["errors"][0]["path"] == ["secret"]
    bad = unique("gql")
    make_credential(api, bad, {"url": graphql_server.url, "token": "wrong-token"})
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "graphql.query",
                "config": {"credential": bad, "query": "{ book(id: 1) { id } }"},
            }
        ],
    )
    assert node_of(run, "q")["error"]["category"] == "AUTHENTICATION_ERROR"


def test_soap_call_from_the_wsdl(api, soap_server):
    cred = unique("soap")
    make_credential(api, cred, {"url": soap_server.wsdl})
    run = run_nodes(
        api,
        [
            {
                "id": "add",
                "type": "soap.call",
                "config": {
                    "credential": cred,
                    "operation": "Add",
                    "arguments": {"a": "{{ input.a }}", "b": 5},
                },
            }
        ],
        {"a": 37},
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"] == {"result": {"sum": 42, "note": "ok"}}


def test_soap_fault_and_unknown_operation(api, soap_server):
    cred = unique("soap")
    make_credential(api, cred, {"url": soap_server.wsdl})
    run = run_nodes(
        api,
        [
            {
                "id": "fault",
                "type": "soap.call",
                "config": {"credential": cred, "operation": "Add", "arguments": {"a": 1, "b": 0}},
            },
            {"id": "nope", "type": "soap.call", "config": {"credential": cred, "operation": "Divide"}},
        ],
        chain=False,
    )
    fault = node_of(run, "fault")["error"]
    assert fault["category"] == "INTEGRATION_ERROR" and fault["details"]["message"] == "b must not be zero"
    assert node_of(run, "nope")["error"]["category"] == "VALIDATION_ERROR"


def test_grpc_unary_call_by_reflection(api, grpc_server):
    cred = unique("grpc")
    make_credential(api, cred, {"url": grpc_server.url})
    run = run_nodes(
        api,
        [
            {
                "id": "add",
                "type": "grpc.call",
                "config": {
                    "credential": cred,
                    "method": "switchyard.test.Calc/Add",
                    "request": {"a": "{{ input.a }}", "b": 2},
                    "metadata": {"x-caller": "switchyard"},
                },
            }
        ],
        {"a": 40},
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"] == {"response": {"sum": 42, "caller": "switchyard"}}


def test_grpc_errors_keep_their_meaning(api, grpc_server):
    cred = unique("grpc")
    make_credential(api, cred, {"url": grpc_server.url})
    run = run_nodes(
        api,
        [
            {
                "id": "fail",
                "type": "grpc.call",
                "config": {"credential": cred, "method": "switchyard.test.Calc/Fail"},
            },
            {
                "id": "nope",
                "type": "grpc.call",
                "config": {"credential": cred, "method": "switchyard.test.Nope/Add"},
            },
            {
                "id": "shape",
                "type": "grpc.call",
                "config": {"credential": cred, "method": "switchyard.test.Calc/Add", "request": {"zzz": 1}},
            },
        ],
        chain=False,
    )
    fail = node_of(run, "fail")["error"]
    assert fail["category"] == "INTEGRATION_ERROR" and fail["details"]["code"] == "FAILED_PRECONDITION"
    assert node_of(run, "nope")["error"]["category"] == "VALIDATION_ERROR"
    assert node_of(run, "shape")["error"]["category"] == "VALIDATION_ERROR"
    down = unique("grpc")
    make_credential(api, down, {"url": "grpc://127.0.0.1:1"})
    run = run_nodes(
        api,
        [
            {
                "id": "x",
                "type": "grpc.call",
                "config": {"credential": down, "method": "a.B/C"},
                "timeout_ms": 3000,
            }
        ],
    )
    assert node_of(run, "x")["error"]["category"] in ("CONNECTION_ERROR", "TIMEOUT_ERROR")
