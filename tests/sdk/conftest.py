"""The gateway the SDK tests drive, once per session: the mock upstream
(examples/mock_upstream, which also writes the fake login) and the real
`codex-pool serve` in front of it, each on a loopback port it picks itself
(port 0) and reports: the mock prints it, the gateway logs it. One client key
per SDK. Binaries come from GATEWAY_BIN and MOCK_BIN (default: target/debug).
"""

import dataclasses
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(ROOT, "target/debug/codex-pool"))
MOCK_BIN = os.environ.get("MOCK_BIN", os.path.join(ROOT, "target/debug/examples/mock_upstream"))
LISTENING = re.compile(r"codex-pool listening on http://([0-9.]+:[0-9]+)")


@dataclasses.dataclass
class Gateway:
    url: str  # http://127.0.0.1:PORT
    keys: dict  # client key by SDK: "openai", "anthropic"
    mock: str = ""  # the mock upstream's address; GET /mock/seen lists what reached it
    token: str = ""  # the account's access token, as upstream must get it


def wait_for(what, check, log_path, proc, timeout=20):
    """`check()` until it returns something true; fails with the gateway's log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    with open(log_path) as f:
        log = f.read()
    raise RuntimeError(f"{what}: not within {timeout} s (exit {proc.poll()}); the gateway's log:\n{log}")


def logged_address(log_path):
    with open(log_path) as f:
        m = LISTENING.search(f.read())
    return m and m.group(1)


def healthy(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def gateway():
    procs = []
    tmp = tempfile.TemporaryDirectory()
    keys = {"openai": "sk-sdk-test-key-123", "anthropic": "sk-anthropic-sdk-key"}
    try:
        # Recording: tests assert on what reached upstream (GET /mock/seen).
        mock = subprocess.Popen([MOCK_BIN, "--port", "0", "--record"], stdout=subprocess.PIPE, text=True)
        procs.append(mock)
        line = mock.stdout.readline().strip()
        assert line.startswith("listening on "), line
        mock_addr = line.removeprefix("listening on ")
        auth_path = os.path.join(tmp.name, "sdk.json")
        subprocess.run([MOCK_BIN, "--write-login", auth_path, "--account", "acct-sdk"], check=True)
        config = os.path.join(tmp.name, "config.toml")
        key_entries = "".join(f'[[api_keys]]\nname = "{sdk}"\nkey = "{key}"\n' for sdk, key in keys.items())
        with open(config, "w") as f:
            f.write(f"""
[server]
listen = "127.0.0.1:0"
[upstream]
base_url = "http://{mock_addr}/backend-api/codex"
issuer = "http://{mock_addr}"
[[accounts]]
name = "sdk"
auth_file = "sdk.json"
{key_entries}
[models.aliases]
"house-model" = "gpt-5.4-high"
""")
        log_path = os.path.join(tmp.name, "gateway.log")
        with open(log_path, "w") as log:
            env = {**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"}
            gw = subprocess.Popen([GATEWAY_BIN, "serve", "--config", config],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.append(gw)
        addr = wait_for("the gateway's address in its log", lambda: logged_address(log_path), log_path, gw)
        url = f"http://{addr}"
        wait_for(f"{url}/healthz", lambda: healthy(url), log_path, gw)
        with open(auth_path) as f:
            token = json.load(f)["tokens"]["access_token"]
        yield Gateway(url=url, keys=keys, mock=mock_addr, token=token)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        tmp.cleanup()
