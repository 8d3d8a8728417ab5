"""The SPEC §2 example document, shared by the fixtures and the document tests."""

SPEC_EXAMPLE = {
    "schema": "switchyard.workflow/1",
    "name": "Order triage",
    "description": "",
    "variables": {"threshold": 100},
    "settings": {"timeout_s": 300, "max_runs_per_day": None},
    "nodes": [
        {"id": "start", "type": "trigger.manual", "name": "Start", "config": {}, "position": [0, 0]},
        {
            "id": "check",
            "type": "logic.if",
            "config": {
                "condition": {"left": "{{ input.amount }}", "op": "gt", "right": "{{ variables.threshold }}"}
            },
            "retry": {"max_attempts": 1},
            "timeout_ms": 30000,
            "on_error": "fail",
        },
        {"id": "big", "type": "data.transform", "config": {"set": {"tier": "gold"}}},
        {"id": "small", "type": "data.transform", "config": {"set": {"tier": "basic"}}},
    ],
    "edges": [
        {"source": "start", "target": "check"},
        {"source": "check", "source_handle": "true", "target": "big"},
        {
            "source": "check",
            "source_handle": "false",
            "target": "small",
            "mapping": {"amount": "{{ source.amount }}"},
        },
    ],
}
