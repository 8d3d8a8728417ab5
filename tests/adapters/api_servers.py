"""Local API servers for the adapter tests, on 127.0.0.1 and free ports: GraphQL (graphql-core
behind http.server), SOAP (a WSDL and a document/literal service) and gRPC (grpcio with
server reflection, its messages described at run time: no generated code)."""

from __future__ import annotations

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree


class _TlsHttpServer(ThreadingHTTPServer):
    """HTTPS when `ssl_context` is set: each connection's handshake runs in its own thread."""

    ssl_context = None
    connections = 0  # connections accepted (TLS or not)

    def finish_request(self, request, client_address):
        self.connections += 1
        if self.ssl_context is not None:
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except OSError:  # the client refused our certificate or our TLS version
                return
        super().finish_request(request, client_address)


class _HttpServer:
    def __init__(self, handler, ssl_context=None):
        self.httpd = _TlsHttpServer(("127.0.0.1", 0), handler)
        self.httpd.ssl_context = ssl_context
        self.scheme = "https" if ssl_context is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------- GraphQL

SDL = """
type Book { id: Int!, title: String! }
type Query { book(id: Int!): Book, secret: String }
type Mutation { addBook(title: String!): Book! }
"""


class GraphqlServer(_HttpServer):
    def __init__(self, token: str = "gql-token-Q7", ssl_context=None):
        from graphql import build_schema, graphql_sync

        schema = build_schema(SDL)
        books = {1: {"id": 1, "title": "Dune"}}

        def book(_root, _info, id):
            return books.get(id)

        def add_book(_root, _info, title):
            books[len(books) + 1] = {"id": len(books) + 1, "title": title}
            return books[len(books)]

        def secret(_root, _info):
            raise ValueError("not for you")

        schema.query_type.fields["book"].resolve = book
        schema.query_type.fields["secret"].resolve = secret
        schema.mutation_type.fields["addBook"].resolve = add_book
        self.seen_auth: list[str] = []
        seen = self.seen_auth

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                seen.append(self.headers.get("Authorization", ""))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self._reply(401, {"errors": [{"message": "unauthorized"}]})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                result = graphql_sync(
                    schema,
                    body["query"],
                    variable_values=body.get("variables"),
                    operation_name=body.get("operationName"),
                )
                answer = {"data": result.data}
                if result.errors:
                    answer["errors"] = [e.formatted for e in result.errors]
                self._reply(200, answer)

            def _reply(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, ssl_context)
        self.url = f"{self.scheme}://127.0.0.1:{self.port}/graphql"


# ---------------------------------------------------------------------------------- SOAP

TNS = "urn:switchyard:calc"
WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:switchyard:calc"
  targetNamespace="urn:switchyard:calc">
  <types>
    <xsd:schema targetNamespace="urn:switchyard:calc" elementFormDefault="qualified">
      <xsd:element name="Add"><xsd:complexType><xsd:sequence>
        <xsd:element name="a" type="xsd:int"/><xsd:element name="b" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="AddResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="sum" type="xsd:int"/><xsd:element name="note" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="AddIn"><part name="parameters" element="tns:Add"/></message>
  <message name="AddOut"><part name="parameters" element="tns:AddResponse"/></message>
  <portType name="CalcPort"><operation name="Add">
    <input message="tns:AddIn"/><output message="tns:AddOut"/>
  </operation></portType>
  <binding name="CalcBinding" type="tns:CalcPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Add"><soap:operation soapAction="urn:switchyard:calc#Add"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="Calc"><port name="CalcPort" binding="tns:CalcBinding">
    <soap:address location="ENDPOINT"/>
  </port></service>
</definitions>"""
ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"


class SoapServer(_HttpServer):
    def __init__(self, ssl_context=None):
        holder = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._reply(200, WSDL.replace("ENDPOINT", holder["endpoint"]).encode())

            def do_POST(self):
                doc = etree.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
                a = int(doc.findtext(f".//{{{TNS}}}a"))
                b = int(doc.findtext(f".//{{{TNS}}}b"))
                if b == 0:
                    body = (
                        "<soap:Fault><faultcode>soap:Client</faultcode>"
                        "<faultstring>b must not be zero</faultstring></soap:Fault>"
                    )
                    status = 500
                else:
                    body = f'<AddResponse xmlns="{TNS}"><sum>{a + b}</sum><note>ok</note></AddResponse>'
                    status = 200
                envelope = (
                    f'<soap:Envelope xmlns:soap="{ENVELOPE}"><soap:Body>{body}</soap:Body></soap:Envelope>'
                )
                self._reply(status, envelope.encode())

            def _reply(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, ssl_context)
        holder["endpoint"] = f"{self.scheme}://127.0.0.1:{self.port}/calc"
        self.wsdl = f"{self.scheme}://127.0.0.1:{self.port}/calc?wsdl"


# ---------------------------------------------------------------------------------- gRPC


def _calc_messages():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(
        name="switchyard_calc.proto", package="switchyard.test", syntax="proto3"
    )
    int32 = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    request = proto.message_type.add(name="AddRequest")
    request.field.add(name="a", number=1, type=int32, label=optional)
    request.field.add(name="b", number=2, type=int32, label=optional)
    reply = proto.message_type.add(name="AddReply")
    reply.field.add(name="sum", number=1, type=int32, label=optional)
    reply.field.add(name="caller", number=2, type=string, label=optional)
    service = proto.service.add(name="Calc")
    for name in ("Add", "Fail"):
        service.method.add(
            name=name, input_type=".switchyard.test.AddRequest", output_type=".switchyard.test.AddReply"
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    get = message_factory.GetMessageClass
    return (
        pool,
        get(pool.FindMessageTypeByName("switchyard.test.AddRequest")),
        get(pool.FindMessageTypeByName("switchyard.test.AddReply")),
    )


class GrpcServer:
    SERVICE = "switchyard.test.Calc"

    def __init__(self, tls=None):
        """Plaintext, or TLS with `tls` (a tests.adapters.tls.TlsFiles)."""
        import grpc
        from grpc_reflection.v1alpha import reflection

        pool, AddRequest, AddReply = _calc_messages()

        def add(request, context):
            caller = dict(context.invocation_metadata()).get("x-caller", "")
            return AddReply(sum=request.a + request.b, caller=caller)

        def fail(request, context):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "calc is closed")

        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=AddRequest.FromString, response_serializer=AddReply.SerializeToString
            )
            for name, fn in (("Add", add), ("Fail", fail))
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.SERVICE, handlers),))
        reflection.enable_server_reflection((self.SERVICE, reflection.SERVICE_NAME), self.server, pool=pool)
        if tls is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
            self.url = f"grpc://127.0.0.1:{self.port}"
        else:
            credentials = grpc.ssl_server_credentials([(tls.key_pem, tls.cert_pem)])
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
            self.url = f"grpcs://127.0.0.1:{self.port}"
        self.server.start()

    def close(self):
        self.server.stop(0)
