"""Fixtures for the compatibility tests: a lazarus Masakari API on a free loopback port."""

import os
import pathlib
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _build_server() -> pathlib.Path:
    """Builds the example server once and returns its path."""
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "lazarus-api", "--example", "masakari_api"],
        cwd=REPO,
        check=True,
    )
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "examples" / "masakari_api"


@pytest.fixture(scope="session")
def server_binary() -> pathlib.Path:
    return _build_server()


@pytest.fixture()
def api(server_binary):
    """Starts the API with a fresh SQLite file and auth none; yields its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp) / "lazarus.sqlite"
        proc = subprocess.Popen(
            [str(server_binary), "--db", str(db), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            line = ""
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if line.startswith("listening on "):
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read()}")
            else:
                raise RuntimeError("server did not start within 30 s")
            yield line.split("listening on ", 1)[1].strip()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
