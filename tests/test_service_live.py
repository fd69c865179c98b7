"""The service under a real uvicorn on 127.0.0.1 (started as `headstart serve`): answers,
the token, slow clients cut off by the read deadlines and the connection limit, and its web
page in headless Chromium: the page loads, an upload returns bars, no console errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from conftest import served_folders

pytest.importorskip("uvicorn")
import httpx

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START_SECONDS = 90  # loading the models; every wait below is bounded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "headstart.cli", "serve", *args, "--port", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stdout.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.25)
    process.kill()
    raise AssertionError(f"serve did not answer within {START_SECONDS} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return served_folders(tmp_path_factory.mktemp("live"), per_class=8)


@pytest.fixture(scope="module")
def server(folders):
    process, url = start([str(folders / "pets"), "--index", str(folders / "pets-index")])
    yield url
    stop(process)


def test_a_real_uvicorn_serves_predictions_and_searches(server, folders):
    image = (folders / "img" / "cat" / "1.png").read_bytes()
    files = [("files", ("cat1.png", image, "image/png"))]
    answer = httpx.post(f"{server}/v1/models/pets/predict", files=files, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["top"][0]["label"] == "cat"
    found = httpx.post(f"{server}/v1/indexes/pets-index/search", files=files, timeout=30)
    assert found.json()["neighbours"][0]["id"].endswith("cat/1.png")
    broken = httpx.post(
        f"{server}/v1/models/pets/predict", files=[("files", ("b.png", b"xx", "image/png"))]
    )
    assert broken.status_code == 422 and "b.png" in broken.text
    assert httpx.get(f"{server}/v1/models/none", timeout=5).status_code in (404, 405)
    big = [("files", ("big.png", b"\0" * (11 * 1024 * 1024), "image/png"))]  # over 10 MB
    assert httpx.post(f"{server}/v1/models/pets/predict", files=big, timeout=30).status_code == 413
    plain = httpx.post(f"{server}/v1/models/pets/predict", content=b"cat", timeout=5)
    assert plain.status_code == 415
    wide = httpx.post(f"{server}/v1/models/pets/predict", json={"vectors": [[0.0] * 3]})
    assert wide.status_code == 422 and "784-d" in wide.text
    assert httpx.get(f"{server}/healthz", timeout=5).json()["status"] == "ok"
    assert httpx.post(f"{server}/v1/models/none/predict", json={"texts": ["x"]}).status_code == 404


def test_the_token_comes_from_the_environment(folders):
    process, url = start([str(folders / "pets")], env={"HEADSTART_TOKEN": "letmein"})
    try:
        assert httpx.get(f"{url}/v1/models", timeout=5).status_code == 401
        good = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer letmein"})
        assert good.status_code == 200 and good.json()[0]["name"] == "pets"
    finally:
        stop(process)


def closed_by_server(connection: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing `connection`; fails if it is still open after
    `seconds` (the bound of this wait, not a claim about speed)."""
    connection.settimeout(seconds)
    received = b""
    try:
        while chunk := connection.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s; got {received[:80]!r}") from None
    return received


def slow_client(port: int, body: bool) -> socket.socket:
    """A connection whose headers never end, or whose body never comes."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    if body:
        connection.sendall(
            b"POST /v1/models/pets/predict HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"
        )
    else:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
    return connection


def test_slow_clients_are_cut_off_and_connections_are_limited(folders):
    limits = ["--header-timeout", "2", "--body-timeout", "2", "--max-connections", "8"]
    process, url = start([str(folders / "pets"), *limits])
    port = int(url.rsplit(":", 1)[1])
    opened = []
    try:
        slow = [slow_client(port, body=i < 3) for i in range(6)]  # 6: within the limit
        opened += slow
        for i, connection in enumerate(slow):
            received = closed_by_server(connection, seconds=15)
            expected = b"" if i < 3 else b"HTTP/1.1 408"  # mid-body: closed without an answer
            assert received.startswith(expected) and b"503" not in received, received[:80]
        trickle = socket.create_connection(("127.0.0.1", port), timeout=5)
        opened.append(trickle)
        trickle.sendall(b"GET /healthz HTTP/1.1\r\n")
        cut = False
        for _ in range(50):  # a header line every 0.1 s does not keep the deadline away
            try:
                trickle.sendall(b"x-slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            time.sleep(0.1)
        assert cut, "a client trickling headers for 5 s was never cut off"
        opened += [slow_client(port, body=False) for _ in range(8)]  # the 8 places taken
        answers = []
        while len(answers) < 20 and 503 not in answers:
            answers.append(httpx.get(f"{url}/healthz", timeout=5).status_code)
            time.sleep(0.05)
        assert 503 in answers, answers
        for connection in opened[-8:]:
            closed_by_server(connection, seconds=15)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        for connection in opened:
            connection.close()
        stop(process)


@pytest.mark.skipif(
    not CHROMIUM and not os.environ.get("CI"), reason="Debian chromium is installed by .ci/run"
)
def test_the_page_shows_bars_for_an_upload_in_chromium(server, folders, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium must be installed (.ci/run installs Debian's chromium)"
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(server + "/", timeout=30_000)
        page.wait_for_selector("#model option", state="attached", timeout=15_000)
        assert page.locator("#model").input_value() == "pets"
        assert "2 classes" in page.locator("#about").inner_text()
        uploads = [str(folders / "img" / "dog" / "2.png"), str(folders / "img" / "cat" / "3.png")]
        page.set_input_files("#files", uploads)
        page.click("#go")
        page.wait_for_selector(".item .bar", timeout=15_000)
        items = page.locator(".item")
        assert items.count() == 2 and page.locator(".item .bar").count() == 4
        verdicts = page.locator(".verdict").all_inner_texts()
        assert all(v.startswith(("prediction: ", "unknown (")) for v in verdicts)
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        browser.close()
    assert (tmp_path / "page.png").stat().st_size > 1_000
    assert not problems, problems
