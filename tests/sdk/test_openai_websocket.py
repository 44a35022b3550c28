"""The official OpenAI Python SDK in WebSocket mode (`openai[realtime]`,
`client.responses.connect()`) against the real codex-pool binary
(conftest.py): two turns on one socket, the second a continuation
(`previous_response_id` and only the new item), and what reached the mock
upstream: one upstream socket, the pool account's login, the continuation
sent as one, the client key kept at the gateway.
"""

import json
import urllib.request

import openai
import pytest


def turn(conn, **params):
    """Sends one response.create; the events up to its end."""
    conn.response.create(**params)
    events = []
    for event in conn:
        events.append(event)
        if event.type in ("response.completed", "response.failed", "response.incomplete", "error"):
            return events
    raise AssertionError(f"the socket closed mid-turn: {events}")


def frames(gateway):
    with urllib.request.urlopen(f"http://{gateway.mock}/mock/ws") as r:
        return json.load(r)


def test_two_turns_on_one_socket_the_second_a_continuation(gateway):
    key = gateway.keys["openai"]
    before = len(frames(gateway))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    with client.responses.connect() as conn:
        first = turn(conn, model="gpt-5.4", input="Say hello", store=False)
        assert first[-1].type == "response.completed", first
        text = "".join(e.delta for e in first if e.type == "response.output_text.delta")
        assert text == "Hello part1"
        rid = first[-1].response.id
        second = turn(
            conn,
            model="gpt-5.4",
            previous_response_id=rid,
            input=[{"role": "user", "content": "And again"}],
            store=False,
        )
        assert second[-1].type == "response.completed", second
        assert second[-1].response.usage.total_tokens == 30
    got = frames(gateway)[before:]
    assert len(got) == 2
    assert got[0]["socket"] == got[1]["socket"], "one upstream socket"
    for f in got:
        assert f["headers"]["chatgpt-account-id"] == "acct-sdk"
        assert f["headers"]["authorization"].startswith("Bearer ey"), "the pool account's login"
        assert key not in json.dumps(f), "the client key stays at the gateway"
    assert "previous_response_id" not in got[0]["body"]
    assert got[1]["body"]["previous_response_id"] == rid
    assert len(got[1]["body"]["input"]) == 1, "only the new item"


def test_a_wrong_key_is_refused_at_the_upgrade(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(Exception) as e:
        with client.responses.connect() as conn:
            turn(conn, model="gpt-5.4", input="hi", store=False)
    assert "401" in str(e.value)
