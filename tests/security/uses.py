"""The node uses the secret sweep runs: every node type and auth style that handles a
secret. Add one with `@node_use` (see `sweep.py`)."""

from __future__ import annotations

from .sweep import Plant, Use, node_use

PLANT = Plant(
    credentials={
        "bearer": {"token": "tok_Bearer-9f8e7d6c5b4a3"},
        "apikey_h": {"value": "hdr/K3y+with=chars&x"},
        "apikey_q": {"value": 'qry K3y/ü?&=value9"'},
        "basic": {"username": "svc-user-7", "password": 'p@ss:w0rd/"quoted"\\x'},
        "conn_own": {"token": "conn-own-Secret-777"},
        "templated": {"token": "tmpl-into-Input-888!"},
        "code": {"token": "code-seen-Secret-999"},
        "transform": {"token": "xform-seen-Secret-31"},
        "long": {"token": "LONG-" + "abcdefghij" * 8 + "-end"},
    },
    literals={
        "hook_token": "whk-Header-Token-123456",
        "hmac_secret": "hmac-Signing-Secret-abc",
        "http_literal": "lit-Http-Token-424242",
        "http_literal_key": "lit-Http-Key-737373",
        "url_password": "url-Userinfo-Pass-5656",
        "listed_key_a": "lit-Listed-Key-a-1717",
        "listed_key_b": "lit-Listed-Key-b-2828",
        "url_query_token": "lit-Url-Query-Token-3939",
    },
    pairs=[("svc-user-7", 'p@ss:w0rd/"quoted"\\x'), ("url-user", "url-Userinfo-Pass-5656")],
)


def _http(node_id, url, auth, **extra):
    return {"id": node_id, "type": "http.request", "config": {"url": url, "auth": auth, **extra}}


@node_use
def http_bearer(plant, url_for):
    return Use(
        [_http("http_bearer", url_for("/echo"), {"type": "bearer", "token": "{{ workspace.bearer }}"})]
    )


@node_use
def http_api_key_header(plant, url_for):
    auth = {"type": "api_key", "in": "header", "name": "X-Api-Key", "value": "{{ workspace.apikey_h }}"}
    return Use([_http("http_key_header", url_for("/echo"), auth)])


@node_use
def http_api_key_query(plant, url_for):
    auth = {"type": "api_key", "in": "query", "name": "api_key", "value": "{{ workspace.apikey_q }}"}
    return Use([_http("http_key_query", url_for("/echo"), auth)])


@node_use
def http_basic(plant, url_for):
    auth = {
        "type": "basic",
        "username": "{{ workspace.basic.username }}",
        "password": "{{ workspace.basic.password }}",
    }
    return Use([_http("http_basic", url_for("/echo"), auth, method="POST", body={"who": "me"})])


@node_use
def http_literal(plant, url_for):
    """Secrets typed into the document itself instead of a credential reference."""
    auth = {"type": "bearer", "token": plant.literals["http_literal"]}
    return Use(
        [
            _http(
                "http_literal",
                url_for("/echo"),
                auth,
                headers={"X-Api-Key": plant.literals["http_literal_key"]},
            )
        ]
    )


@node_use
def http_url_userinfo(plant, url_for):
    """A password and a token typed into the URL (the password sent as Basic auth) and a
    secret query parameter given a list of values."""
    url = url_for("/echo").replace("://", f"://url-user:{plant.literals['url_password']}@", 1)
    url += f"?access_token={plant.literals['url_query_token']}"
    query = {"api_key": [plant.literals["listed_key_a"], plant.literals["listed_key_b"]]}
    return Use([_http("http_userinfo", url, {"type": "none"}, query=query)])


@node_use
def http_error_echo(plant, url_for):
    """The server fails and echoes the credential past the point where error bodies are cut."""
    node = _http("http_error", url_for("/fail"), {"type": "bearer", "token": "{{ workspace.long }}"})
    return Use([{**node, "on_error": "skip"}])


@node_use
def connector_run(plant, url_for):
    config = {
        "method": "POST",
        "url": url_for("/echo"),
        "headers": {"Authorization": "Bearer {{ workspace.conn_own }}"},
        "queryParams": {"k": "{{ input.key }}"},
        "body": {"k": "{{ input.key }}"},
    }
    node = {
        "id": "connector",
        "type": "connector.run",
        "config": {"connector": "sweep_conn", "input": {"key": "{{ workspace.templated }}"}},
    }
    return Use([node], connectors=[{"name": "sweep_conn", "config": config}])


@node_use
def flow_poll(plant, url_for):
    node = _http("poll", url_for("/echo"), {"type": "bearer", "token": "{{ workspace.bearer }}"})
    node["type"] = "flow.poll"
    node["config"].update(success_condition="{{ response.status == 200 }}", interval_s=0.1, max_attempts=2)
    return Use([node])


@node_use
def data_code(plant, url_for):
    code = 'import json\nprint("got", input["s"])\nresult = {"seen": input["s"], "json": json.dumps(input)}'
    return Use(
        [{"id": "code", "type": "data.code", "config": {"code": code}}], mapping={"s": "{{ workspace.code }}"}
    )


@node_use
def data_transform(plant, url_for):
    config = {"set": {"x": "{{ workspace.transform }}", "enc": "{{ workspace.transform | json }}"}}
    return Use([{"id": "transform", "type": "data.transform", "config": config}])


@node_use
def template_error_echo(plant, url_for):
    """A filter error quotes the value it could not convert (cut to 50 characters)."""
    config = {"set": {"n": "{{ workspace.long | int }}"}}
    return Use([{"id": "bad_int", "type": "data.transform", "config": config, "on_error": "skip"}])


__all__ = ["PLANT"]
