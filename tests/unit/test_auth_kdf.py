"""receiver.auth: password checks run on a few dedicated threads, and a flood is refused (Busy)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from pathlib import Path

import pytest

from receiver import credentials
from receiver.auth import AuthError, CredentialStore
from receiver.credentials import hash_password
from receiver.errors import Busy


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"parkster:{password}".encode()).decode()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "credentials.toml"
    file.write_text(
        '[[client]]\ntenant = "stockholm"\nsource = "parkster"\nusername = "parkster"\n'
        f'password_hash = "{hash_password("right", n=16, r=1, p=1)}"\n'
    )
    return file


class Tracker:
    """Wraps the KDF: how many run at once, on which threads."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        self.real = credentials.verify_password

    def __call__(self, password: str | bytes, encoded: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        return self.real(password, encoded)


def test_checks_run_on_the_dedicated_threads_only(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(delay=0.05)
    monkeypatch.setattr(credentials, "verify_password", tracker)
    store = CredentialStore(path, kdf_threads=2, kdf_queue=10)

    async def flood() -> list[BaseException | object]:
        return await asyncio.gather(
            *(store.authenticate(basic(f"guess-{i}"), None) for i in range(8)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(flood())
    finally:
        store.close()
    assert all(isinstance(r, AuthError) for r in results)
    assert tracker.most == 2
    assert all(name.startswith("kdf") for name in tracker.threads)


def test_beyond_threads_and_queue_a_check_is_refused_as_busy(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "verify_password", Tracker(delay=0.2))
    store = CredentialStore(path, kdf_threads=1, kdf_queue=2)

    async def flood() -> list[BaseException | object]:
        return await asyncio.gather(
            *(store.authenticate(basic(f"guess-{i}"), None) for i in range(5)),
            return_exceptions=True,
        )

    async def later() -> None:
        # Once the flood has drained, checks are taken again.
        with pytest.raises(AuthError):
            await store.authenticate(basic("guess-late"), None)
        assert (await store.authenticate(basic("right"), None)).source == "parkster"

    try:
        results = asyncio.run(flood())
        asyncio.run(later())
    finally:
        store.close()
    assert [type(r) for r in results] == [AuthError, AuthError, AuthError, Busy, Busy]
    assert Busy.retriable


def test_a_cached_password_needs_no_thread_even_when_busy(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CredentialStore(path, kdf_threads=1, kdf_queue=0)

    async def scenario() -> None:
        assert (await store.authenticate(basic("right"), None)).source == "parkster"
        monkeypatch.setattr(credentials, "verify_password", Tracker(delay=0.3))
        slow = asyncio.ensure_future(store.authenticate(basic("wrong"), None))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await store.authenticate(basic("wrong-2"), None)
        # The verified cache answers without the KDF: a legitimate client is not refused.
        assert (await store.authenticate(basic("right"), None)).source == "parkster"
        with pytest.raises(AuthError):
            await slow

    try:
        asyncio.run(scenario())
    finally:
        store.close()
