"""The official Anthropic Python SDK against the real codex-pool binary.

Drives `/v1/messages` of the gateway of `conftest.py` (the mock upstream and
`codex-pool serve`) exactly as Anthropic SDK users do: a plain message, a
stream, a tool round trip, extended thinking whose signature round-trips,
count_tokens, the models list and error types.
"""

import anthropic
import pytest

MODEL = "claude-opus-5-5"


@pytest.fixture(scope="module")
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.keys["anthropic"], max_retries=0)


def test_plain_message(client):
    m = client.messages.create(model=MODEL, max_tokens=256, system="Be brief.",
                               messages=[{"role": "user", "content": "hi"}])
    assert m.type == "message" and m.role == "assistant"
    assert m.model == "gpt-6.2-sol"  # the catalog's default, as upstream answered: not the alias
    assert m.stop_reason == "end_turn"
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[1].text == "Hello part1"
    assert m.usage.input_tokens == 16
    assert m.usage.cache_read_input_tokens == 5
    assert m.usage.output_tokens == 9


def test_stream(client):
    with client.messages.stream(model=MODEL, max_tokens=256,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello part1"
    assert final.stop_reason == "end_turn"
    assert final.content[-1].text == "Hello part1"
    assert final.usage.output_tokens == 9


def test_tool_round_trip(client):
    tools = [{"name": "read_file", "description": "Read a file",
              "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]
    messages = [{"role": "user", "content": "What is in README.md?"}]
    m = client.messages.create(model=MODEL, max_tokens=256, tools=tools, messages=messages)
    assert m.stop_reason == "tool_use"
    call = next(b for b in m.content if b.type == "tool_use")
    assert call.name == "read_file"
    assert call.input == {"path": "README.md"}
    # The client runs the tool itself and sends the result back.
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "# codex-pool"}]})
    with client.messages.stream(model=MODEL, max_tokens=256, tools=tools, messages=messages) as stream:
        final = stream.get_final_message()
    assert final.content[-1].text == "The tool said: # codex-pool"


def test_streamed_tool_input(client):
    tools = [{"name": "read_file", "input_schema": {"type": "object", "properties": {}}}]
    with client.messages.stream(model=MODEL, max_tokens=64, tools=tools,
                                messages=[{"role": "user", "content": "x"}]) as stream:
        final = stream.get_final_message()
    call = final.content[0]
    assert call.type == "tool_use" and call.input == {"path": "README.md"}
    assert final.stop_reason == "tool_use"


def test_thinking_round_trips_its_signature(client):
    with client.messages.stream(model="house-model", max_tokens=4096,
                                thinking={"type": "enabled", "budget_tokens": 2048},
                                messages=[{"role": "user", "content": "think"}]) as stream:
        final = stream.get_final_message()
    thinking = final.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "Thinking briefly."
    assert thinking.signature == "enc"
    # Sent back as the assistant turn, the signed block is accepted.
    follow = client.messages.create(model="house-model", max_tokens=256, messages=[
        {"role": "user", "content": "think"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": "and now?"},
    ])
    assert follow.content[-1].text == "Hello part1"


def test_count_tokens(client):
    r = client.messages.count_tokens(model=MODEL, system="You are terse.",
                                     messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert r.input_tokens > 0


def test_models_list_and_errors(client, gateway):
    ids = [m.id for m in client.models.list().data]
    assert "gpt-5.4" in ids and "house-model" in ids
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="wrong-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}],
                               tools=[{"type": "bash_20250124", "name": "bash"}])
    assert "bash_20250124" in e.value.body["error"]["message"]
