"""What is stored of a payload (`runs.payloads`): its size counted in UTF-8 bytes against the
cap, and every value JSON can hold encoded, also those the fast encoder refuses."""

import json

from runs.payloads import TRUNCATION_MARKER, encode, for_storage


def test_the_size_against_the_cap_is_counted_in_utf8_bytes():
    kept = {"t": "\u00e9" * 44}  # {"t":"..."} = 8 + 88 bytes
    assert len(json.dumps(kept, ensure_ascii=False).encode()) <= 100
    assert for_storage(kept, limit=100) == kept
    over = {"t": "\u00e9" * 47}  # 8 + 94 = 102 bytes
    assert for_storage(over, limit=102) == over
    stored = for_storage(over, limit=101)
    assert stored[TRUNCATION_MARKER] is True
    assert stored["size_bytes"] == 102
    assert "102 bytes truncated to 101 bytes" in stored["message"]


def test_a_preview_cut_inside_a_character_ends_before_it():
    value = {"t": "\u4e2d" * 400}  # 3 bytes each
    stored = for_storage(value, limit=400)  # the preview: the first 200 bytes
    assert stored[TRUNCATION_MARKER] is True
    preview = stored["preview"]
    assert preview.startswith('{"t":"\u4e2d')
    assert len(preview.encode()) <= 200 and "\ufffd" not in preview


def test_values_the_fast_encoder_refuses_are_encoded_as_the_standard_library_does():
    big = {"n": 2**70, "list": [-(2**80)]}
    assert json.loads(encode(big)) == big
    lone = {"s": "a\ud800b"}
    assert encode(lone) == json.dumps(lone, separators=(",", ":")).encode()


def test_keys_that_are_not_strings_are_written_as_json_writes_them():
    value = {1: "a", 2.5: "b", False: "c", None: "d"}
    assert json.loads(encode(value)) == json.loads(json.dumps(value))


def test_a_nul_character_is_stored_as_the_replacement_character():
    assert for_storage({"t": "a\x00b"}) == {"t": "a\ufffdb"}
