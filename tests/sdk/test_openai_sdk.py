"""The official OpenAI Python SDK against the real codex-pool binary.

Starts the mock upstream (examples/mock_upstream) and `codex-pool serve` on
loopback ports, then drives the gateway exactly as users do: chat non-stream,
stream, a tool call round trip, usage, the Responses API and the models list.
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

import openai
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(ROOT, "target/debug/codex-pool"))
MOCK_BIN = os.environ.get("MOCK_BIN", os.path.join(ROOT, "target/debug/examples/mock_upstream"))
CLIENT_KEY = "sk-sdk-test-key-123"


def jwt(payload):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}.sig"


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
""")
        gw = subprocess.Popen([GATEWAY_BIN, "serve", "--config", config], stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}/v1"
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
    return openai.OpenAI(base_url=gateway, api_key=CLIENT_KEY, max_retries=0)


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
    bad = openai.OpenAI(base_url=gateway, api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
