"""The official Anthropic Python SDK against the real codex-pool binary.

Starts the mock upstream (examples/mock_upstream) and `codex-pool serve` on
loopback ports, then drives `/v1/messages` exactly as Anthropic SDK users
do: a plain message, a stream, a tool round trip, extended thinking whose
signature round-trips, count_tokens, the models list and error types.
Binaries come from GATEWAY_BIN and MOCK_BIN (default: target/debug).
"""

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import anthropic
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(ROOT, "target/debug/codex-pool"))
MOCK_BIN = os.environ.get("MOCK_BIN", os.path.join(ROOT, "target/debug/examples/mock_upstream"))
CLIENT_KEY = "sk-anthropic-sdk-key"
MODEL = "claude-opus-5-5"


def jwt(payload):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    return f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(payload).encode())}.sig"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="module")
def gateway():
    procs = []
    tmp = tempfile.TemporaryDirectory()
    try:
        mock = subprocess.Popen([MOCK_BIN, "--port", "0"], stdout=subprocess.PIPE, text=True)
        procs.append(mock)
        line = mock.stdout.readline().strip()
        assert line.startswith("listening on "), line
        mock_addr = line.removeprefix("listening on ")
        auth = {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": jwt({"email": "sdk@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-sdk", "chatgpt_plan_type": "pro"}}),
                "access_token": jwt({"exp": int(time.time()) + 3600}),
                "refresh_token": "rt-sdk",
                "account_id": "acct-sdk",
            },
            "last_refresh": "2026-11-01T00:00:00Z",
        }
        auth_path = os.path.join(tmp.name, "sdk.json")
        with open(os.open(auth_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            json.dump(auth, f)
        port = free_port()
        config = os.path.join(tmp.name, "config.toml")
        with open(config, "w") as f:
            f.write(f"""
[server]
listen = "127.0.0.1:{port}"
[upstream]
base_url = "http://{mock_addr}/backend-api/codex"
issuer = "http://{mock_addr}"
[[accounts]]
name = "sdk"
auth_file = "sdk.json"
[[api_keys]]
name = "tester"
key = "{CLIENT_KEY}"
[models.aliases]
"house-model" = "gpt-5.4-high"
""")
        gw = subprocess.Popen([GATEWAY_BIN, "serve", "--config", config], stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        tmp.cleanup()


@pytest.fixture(scope="module")
def client(gateway):
    return anthropic.Anthropic(base_url=gateway, api_key=CLIENT_KEY, max_retries=0)


def test_plain_message(client):
    m = client.messages.create(model=MODEL, max_tokens=256, system="Be brief.",
                               messages=[{"role": "user", "content": "hi"}])
    assert m.type == "message" and m.role == "assistant"
    assert m.model == "gpt-5.4"  # what upstream answered with, not the alias
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
    bad = anthropic.Anthropic(base_url=gateway, api_key="wrong-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}],
                               tools=[{"type": "bash_20250124", "name": "bash"}])
    assert "bash_20250124" in e.value.body["error"]["message"]
