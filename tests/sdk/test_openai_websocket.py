"""The official OpenAI Python SDK in WebSocket mode (`openai[realtime]`,
`client.responses.connect()`) against the real codex-pool binary: two turns
on one socket, the second a continuation (`previous_response_id` and only the
new item), and what reached the mock upstream: one upstream socket, the pool
account's token, the continuation sent as one.
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
CLIENT_KEY = "sk-sdk-websocket-key-123"


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
def served():
    procs = []
    tmp = tempfile.TemporaryDirectory()
    try:
        mock = subprocess.Popen([MOCK_BIN, "--port", "0"], stdout=subprocess.PIPE, text=True)
        procs.append(mock)
        line = mock.stdout.readline().strip()
        assert line.startswith("listening on "), line
        mock_addr = line.removeprefix("listening on ")
        access = jwt({"exp": int(time.time()) + 3600, "tag": "ws"})
        auth = {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": jwt({"email": "ws@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-ws", "chatgpt_plan_type": "pro"}}),
                "access_token": access,
                "refresh_token": "rt-ws",
                "account_id": "acct-ws",
            },
            "last_refresh": "2026-11-01T00:00:00Z",
        }
        with open(os.open(os.path.join(tmp.name, "ws.json"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
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
name = "ws"
auth_file = "ws.json"
[[api_keys]]
name = "tester"
key = "{CLIENT_KEY}"
""")
        gw = subprocess.Popen([GATEWAY_BIN, "serve", "--config", config], stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield {"base_url": f"http://127.0.0.1:{port}/v1", "mock": mock_addr, "token": access}
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        tmp.cleanup()


def turn(conn, **params):
    """Sends one response.create; the events up to its end."""
    conn.response.create(**params)
    events = []
    for event in conn:
        events.append(event)
        if event.type in ("response.completed", "response.failed", "response.incomplete", "error"):
            return events
    raise AssertionError(f"the socket closed mid-turn: {events}")


def test_two_turns_on_one_socket_the_second_a_continuation(served):
    client = openai.OpenAI(base_url=served["base_url"], api_key=CLIENT_KEY, max_retries=0)
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
    with urllib.request.urlopen(f"http://{served['mock']}/mock/ws") as r:
        frames = json.load(r)
    assert len(frames) == 2
    assert frames[0]["socket"] == frames[1]["socket"], "one upstream socket"
    assert all(f["headers"]["authorization"] == f"Bearer {served['token']}" for f in frames)
    assert all(CLIENT_KEY not in json.dumps(f) for f in frames), "the client key stays at the gateway"
    assert "previous_response_id" not in frames[0]["body"]
    assert frames[1]["body"]["previous_response_id"] == rid
    assert len(frames[1]["body"]["input"]) == 1, "only the new item"


def test_a_wrong_key_is_refused_at_the_upgrade(served):
    client = openai.OpenAI(base_url=served["base_url"], api_key="sk-wrong", max_retries=0)
    with pytest.raises(Exception) as e:
        with client.responses.connect() as conn:
            turn(conn, model="gpt-5.4", input="hi", store=False)
    assert "401" in str(e.value)
