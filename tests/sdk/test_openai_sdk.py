"""The official OpenAI Python SDK against the real codex-pool binary.

Drives the gateway of `conftest.py` (the mock upstream and `codex-pool
serve`) exactly as users do: chat non-stream, stream, a tool call round trip,
usage, the Responses API and the models list.
"""

import json

import openai
import pytest


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["openai"], max_retries=0)


def test_non_stream_chat_with_usage(client):
    r = client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello part1"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gpt-5.4"
    assert r.usage.prompt_tokens == 21
    assert r.usage.completion_tokens == 9
    assert r.usage.total_tokens == 30
    assert r.usage.prompt_tokens_details.cached_tokens == 5
    assert r.usage.completion_tokens_details.reasoning_tokens == 3


def test_stream_chat_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-5.4",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == "Hello part1"
    assert finish == "stop"
    assert usage.total_tokens == 30


def test_tool_call_round_trip(client):
    tools = [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
              "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]
    messages = [{"role": "user", "content": "What is in README.md?"}]
    r = client.chat.completions.create(model="gpt-5.4", messages=messages, tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "read_file"
    assert json.loads(call.function.arguments) == {"path": "README.md"}
    # The client runs the tool itself and sends the result back.
    messages.append(r.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "# codex-pool"})
    r2 = client.chat.completions.create(model="gpt-5.4", messages=messages, tools=tools)
    assert r2.choices[0].message.content == "The tool said: # codex-pool"


def test_stream_tool_call(client):
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object", "properties": {}}}}]
    stream = client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "x"}], tools=tools, stream=True)
    args, name, finish = "", None, None
    for chunk in stream:
        for c in chunk.choices:
            for tc in c.delta.tool_calls or []:
                assert tc.index == 0
                if tc.function.name:
                    name = tc.function.name
                args += tc.function.arguments or ""
            finish = c.finish_reason or finish
    assert name == "read_file"
    assert json.loads(args) == {"path": "README.md"}
    assert finish == "tool_calls"


def test_responses_api(client):
    r = client.responses.create(model="gpt-5.4", input="hi", instructions="be brief")
    assert r.output_text == "Hello part1"
    assert r.usage.total_tokens == 30
    events = list(client.responses.create(model="gpt-5.4", input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello part1"


def test_models_list(client):
    ids = [m.id for m in client.models.list().data]
    assert "gpt-5.4" in ids


def test_errors_are_openai_envelopes(client, gateway):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}], n=2)
    assert e.value.code == "unsupported_parameter"
    bad = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
