"""receiver.auth: Bearer/Basic authentication, Host tenant check, rate limits, hot reload."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from receiver import credentials
from receiver.auth import (
    MAX_AUTHORIZATION,
    AccessDenied,
    AuthError,
    CredentialStore,
    Forbidden,
    Principal,
    RateLimited,
    host_tenant,
)
from receiver.credentials import CredentialsError, hash_password, token_digest

TOKEN = "tok-" + "x" * 40
OTHER_TOKEN = "tok-" + "y" * 40
PASSWORD = "pässword:with-colon"
OTHER_PASSWORD = "another password"
# Small scrypt cost so the suite stays fast.
PW_HASH = hash_password(PASSWORD, n=16, r=1, p=1)
OTHER_HASH = hash_password(OTHER_PASSWORD, n=16, r=1, p=1)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KdfCalls:
    """Wraps credentials.verify_password to count runs and record their threads."""

    def __init__(self) -> None:
        self.count = 0
        self.threads: list[int] = []
        self.before: Callable[[], None] = lambda: None
        self._real = credentials.verify_password

    def __call__(self, password: str | bytes, encoded: str) -> bool:
        self.count += 1
        self.threads.append(threading.get_ident())
        self.before()
        return self._real(password, encoded)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def kdf(monkeypatch: pytest.MonkeyPatch) -> KdfCalls:
    calls = KdfCalls()
    monkeypatch.setattr(credentials, "verify_password", calls)
    return calls


@pytest.fixture
def clock() -> Clock:
    return Clock()


def bearer_client(token: str = TOKEN, tenant: str = "stockholm", extra: str = "") -> str:
    """A [[client]] table for a bearer token."""
    return (
        f'[[client]]\ntenant = "{tenant}"\nsource = "easypark"\n'
        f'token_sha256 = "{token_digest(token)}"\n{extra}\n'
    )


def basic_client(
    username: str = "parkster", pw_hash: str = PW_HASH, tenant: str = "stockholm", extra: str = ""
) -> str:
    """A [[client]] table for a username and password hash."""
    return (
        f'[[client]]\ntenant = "{tenant}"\nsource = "{username}"\nusername = "{username}"\n'
        f'password_hash = "{pw_hash}"\n{extra}\n'
    )


def write(path: Path, text: str) -> None:
    """Replace the file's content and move its mtime, as an edit a second later would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def basic(username: str, password: str) -> str:
    """An Authorization header value for Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.toml"
    write(path, bearer_client() + basic_client())
    return path


@pytest.fixture
def store(path: Path, clock: Clock) -> CredentialStore:
    return CredentialStore(path, clock=clock)


def refused(
    store: CredentialStore, authorization: str | None, host: str | None = None
) -> AuthError:
    """Authenticate, expecting an AuthError, and return it."""
    with pytest.raises(AuthError) as info:
        asyncio.run(store.authenticate(authorization, host))
    return info.value


# --- Bearer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"  Bearer \t {TOKEN}  "],
)
@pytest.mark.anyio
async def test_bearer(store: CredentialStore, header: str) -> None:
    principal = await store.authenticate(header, None)
    assert principal == Principal("stockholm", "easypark", f"bearer:{token_digest(TOKEN)[:8]}")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("  \t", "missing"),
        ("Bearer", "malformed Bearer"),
        ("Bearer   ", "malformed Bearer"),
        (f"Bearer {TOKEN} {TOKEN}", "malformed Bearer"),
        (f"Bearer {TOKEN}\udcff", "malformed Bearer"),
        (f"Bearer {TOKEN}é", "malformed Bearer"),
        (f"Basic {TOKEN}\udcff", "malformed Basic"),
        (f"Bearer {OTHER_TOKEN}", "unknown Bearer token"),
        (f"Bearer {TOKEN[:-1]}", "unknown Bearer token"),
        (TOKEN, "unsupported authorization scheme"),
        (f"Token {TOKEN}", "unsupported authorization scheme"),
        (f"Bearer: {TOKEN}", "unsupported authorization scheme"),
        ("Bearer " + "x" * MAX_AUTHORIZATION, "too long"),
    ],
)
def test_bearer_refused(store: CredentialStore, header: str | None, reason: str) -> None:
    error = refused(store, header)
    assert reason in error.reason
    assert TOKEN not in str(error)
    assert TOKEN[:-1] not in str(error)
    assert OTHER_TOKEN not in str(error)


# --- Basic ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        basic("parkster", PASSWORD),
        basic("parkster", PASSWORD).replace("Basic", "bAsIc  "),
        basic("parkster", PASSWORD).rstrip("=") + "  ",  # unpadded, trailing space
    ],
)
@pytest.mark.anyio
async def test_basic(store: CredentialStore, header: str) -> None:
    principal = await store.authenticate(header, None)
    assert principal == Principal("stockholm", "parkster", "basic:parkster")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic", "malformed Basic"),
        ("Basic !!!!", "malformed Basic"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed Basic"),
        ("Basic " + base64.b64encode(b":" + PASSWORD.encode()).decode(), "malformed Basic"),
        ("Basic " + base64.b64encode(b"\xff\xfe:pw").decode(), "malformed Basic"),
        ("Basic a", "malformed Basic"),
        (basic("parkster", PASSWORD) + " extra", "malformed Basic"),
        (basic("parkster", PASSWORD[:-1]), "wrong username or password"),
        (basic("parkster", ""), "wrong username or password"),
        (basic("Parkster", PASSWORD), "wrong username or password"),
        (basic("nobody", PASSWORD), "wrong username or password"),
    ],
)
def test_basic_refused(store: CredentialStore, header: str, reason: str) -> None:
    error = refused(store, header)
    assert reason in error.reason
    assert PASSWORD not in str(error)
    assert PASSWORD[:-1] not in str(error)


def test_wrong_password_names_the_credential_for_logs_only(store: CredentialStore) -> None:
    assert refused(store, basic("parkster", "nope")).credential_id == "basic:parkster"
    assert refused(store, basic("nobody", "nope")).credential_id is None
    assert str(refused(store, basic("parkster", "nope"))) == str(
        refused(store, basic("nobody", "nope"))
    )


def test_verified_password_is_cached_and_kdf_runs_off_the_loop(
    store: CredentialStore, kdf: KdfCalls
) -> None:
    async def twice() -> int:
        await store.authenticate(basic("parkster", PASSWORD), None)
        await store.authenticate(basic("parkster", PASSWORD), None)
        return threading.get_ident()

    loop_thread = asyncio.run(twice())
    assert kdf.count == 1
    assert kdf.threads[0] != loop_thread


def test_unknown_username_costs_a_kdf_run_like_a_known_one(
    store: CredentialStore, kdf: KdfCalls
) -> None:
    refused(store, basic("nobody", PASSWORD))
    assert kdf.count == 1
    refused(store, basic("parkster", "wrong"))
    assert kdf.count == 2


def test_repeated_wrong_password_runs_the_kdf_once(store: CredentialStore, kdf: KdfCalls) -> None:
    for _ in range(3):
        assert refused(store, basic("parkster", "old password")).credential_id == "basic:parkster"
    assert kdf.count == 1


def test_no_basic_clients_means_no_kdf(tmp_path: Path, kdf: KdfCalls) -> None:
    path = tmp_path / "credentials.toml"
    write(path, bearer_client())
    refused(CredentialStore(path), basic("parkster", PASSWORD))
    assert kdf.count == 0


def test_cache_is_bounded(tmp_path: Path, kdf: KdfCalls) -> None:
    path = tmp_path / "credentials.toml"
    write(path, "".join(basic_client(name) for name in ("a", "b", "c")))
    store = CredentialStore(path, cache_size=2)

    async def run(*names: str) -> None:
        for name in names:
            await store.authenticate(basic(name, PASSWORD), None)

    asyncio.run(run("a", "b", "c"))  # "a" is evicted
    assert kdf.count == 3
    asyncio.run(run("c", "b"))
    assert kdf.count == 3
    asyncio.run(run("a"))
    assert kdf.count == 4


def test_wrong_guesses_do_not_evict_verified_entries(tmp_path: Path, kdf: KdfCalls) -> None:
    path = tmp_path / "credentials.toml"
    write(path, basic_client())
    store = CredentialStore(path, cache_size=2)
    asyncio.run(store.authenticate(basic("parkster", PASSWORD), None))
    for guess in range(5):
        refused(store, basic("parkster", f"guess {guess}"))
    asyncio.run(store.authenticate(basic("parkster", PASSWORD), None))
    assert kdf.count == 6


def test_concurrent_identical_requests_share_one_kdf_run(
    store: CredentialStore, kdf: KdfCalls
) -> None:
    async def burst() -> list[Principal]:
        header = basic("parkster", PASSWORD)
        return await asyncio.gather(*(store.authenticate(header, None) for _ in range(10)))

    assert len(set(asyncio.run(burst()))) == 1
    assert kdf.count == 1


def test_reload_invalidates_the_cache(
    store: CredentialStore, path: Path, clock: Clock, kdf: KdfCalls
) -> None:
    asyncio.run(store.authenticate(basic("parkster", PASSWORD), None))
    write(path, basic_client(pw_hash=OTHER_HASH))
    clock.now += 1
    refused(store, basic("parkster", PASSWORD))
    asyncio.run(store.authenticate(basic("parkster", OTHER_PASSWORD), None))
    assert kdf.count == 3


def test_result_of_a_kdf_run_spanning_a_reload_is_not_cached(
    store: CredentialStore, path: Path, kdf: KdfCalls
) -> None:
    entered, release = threading.Event(), threading.Event()

    def pause() -> None:
        entered.set()
        release.wait(5)

    kdf.before = pause

    async def scenario() -> None:
        pending = asyncio.ensure_future(store.authenticate(basic("parkster", PASSWORD), None))
        assert await asyncio.to_thread(entered.wait, 5)
        write(path, basic_client(pw_hash=OTHER_HASH))
        assert store.reload_if_changed()
        release.set()
        await pending  # begun under the old file, it completes under it

    asyncio.run(scenario())
    kdf.before = lambda: None
    refused(store, basic("parkster", PASSWORD))
    assert kdf.count == 2


# --- Host ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "tenant"),
    [
        ("api.stockholm.example.com", "stockholm"),
        ("api.stockholm.example.com:8443", "stockholm"),
        ("API.Stockholm.Example.COM.", "stockholm"),
        ("api.malmo.se", "malmo"),
        ("api..example.com", ""),
        (None, None),
        ("", None),
        ("localhost", None),
        ("localhost:8000", None),
        ("127.0.0.1:8000", None),
        ("[::1]:8000", None),
        ("[2001:db8::1]", None),
        ("api.stockholm", None),
        ("apix.malmo.example.com", None),
        ("receiver.malmo.example.com", None),
        ("x.api.malmo.example.com", None),
    ],
)
def test_host_tenant(host: str | None, tenant: str | None) -> None:
    assert host_tenant(host) == tenant


@pytest.mark.parametrize(
    "host", ["api.stockholm.example.com", "api.stockholm.example.com:443", "localhost:8000", None]
)
@pytest.mark.anyio
async def test_host_of_own_tenant_or_no_tenant_is_allowed(
    store: CredentialStore, host: str | None
) -> None:
    assert (await store.authenticate(f"Bearer {TOKEN}", host)).tenant == "stockholm"


@pytest.mark.anyio
async def test_host_naming_another_tenant_is_forbidden(store: CredentialStore) -> None:
    with pytest.raises(Forbidden) as info:
        await store.authenticate(basic("parkster", PASSWORD), "api.malmo.example.com:443")
    assert info.value.host_tenant == "malmo"
    assert info.value.principal == Principal("stockholm", "parkster", "basic:parkster")


def test_bad_credentials_are_401_before_the_host_is_looked_at(store: CredentialStore) -> None:
    refused(store, f"Bearer {OTHER_TOKEN}", "api.malmo.example.com")


# --- rate limits --------------------------------------------------------------------------------


def limited_store(tmp_path: Path, clock: Clock, extra: str) -> CredentialStore:
    """A store whose bearer client has the given rate-limit fields, and an unlimited one."""
    path = tmp_path / "credentials.toml"
    write(path, bearer_client(extra=extra) + bearer_client(OTHER_TOKEN, tenant="malmo"))
    return CredentialStore(path, clock=clock, reload_interval=0)


def test_token_bucket(tmp_path: Path, clock: Clock) -> None:
    store = limited_store(tmp_path, clock, "rate_limit = 2\nburst = 2")

    async def scenario() -> None:
        await store.authenticate(f"Bearer {TOKEN}", None)
        await store.authenticate(f"Bearer {TOKEN}", None)
        with pytest.raises(RateLimited) as info:
            await store.authenticate(f"Bearer {TOKEN}", None)
        assert info.value.retry_after == pytest.approx(0.5)
        assert info.value.principal.tenant == "stockholm"
        for _ in range(20):  # another credential has its own (absent) limit
            await store.authenticate(f"Bearer {OTHER_TOKEN}", None)
        clock.now += 0.25
        with pytest.raises(RateLimited) as info:
            await store.authenticate(f"Bearer {TOKEN}", None)
        assert info.value.retry_after == pytest.approx(0.25)
        clock.now += 0.25
        await store.authenticate(f"Bearer {TOKEN}", None)

    asyncio.run(scenario())


def test_slow_rate_defaults_to_a_burst_of_one(tmp_path: Path, clock: Clock) -> None:
    store = limited_store(tmp_path, clock, "rate_limit = 0.5")
    asyncio.run(store.authenticate(f"Bearer {TOKEN}", None))
    with pytest.raises(RateLimited) as info:
        asyncio.run(store.authenticate(f"Bearer {TOKEN}", None))
    assert info.value.retry_after == pytest.approx(2.0)


def test_reload_keeps_a_drained_bucket_unless_its_limit_changed(
    tmp_path: Path, clock: Clock
) -> None:
    store = limited_store(tmp_path, clock, "rate_limit = 1")
    path = tmp_path / "credentials.toml"
    asyncio.run(store.authenticate(f"Bearer {TOKEN}", None))
    write(path, path.read_text() + "\n")
    with pytest.raises(RateLimited):
        asyncio.run(store.authenticate(f"Bearer {TOKEN}", None))
    write(path, path.read_text().replace("rate_limit = 1", "rate_limit = 5"))
    assert asyncio.run(store.authenticate(f"Bearer {TOKEN}", None)).tenant == "stockholm"


# --- loading and hot reload ----------------------------------------------------------------------


def test_missing_or_broken_file_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read"):
        CredentialStore(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    write(broken, bearer_client(tenant="Stockholm"))
    with pytest.raises(CredentialsError, match="tenant must be"):
        CredentialStore(broken)


def test_reload_waits_for_the_interval(store: CredentialStore, path: Path, clock: Clock) -> None:
    write(path, bearer_client() + bearer_client(OTHER_TOKEN, tenant="malmo"))
    clock.now += 0.5
    refused(store, f"Bearer {OTHER_TOKEN}")
    clock.now += 0.5
    assert asyncio.run(store.authenticate(f"Bearer {OTHER_TOKEN}", None)).tenant == "malmo"
    assert store.client_count == 2


def test_removed_credential_stops_working(store: CredentialStore, path: Path) -> None:
    write(path, basic_client())
    assert store.reload_if_changed()
    refused(store, f"Bearer {TOKEN}")
    assert not store.reload_if_changed()  # nothing changed since


def test_broken_or_missing_file_keeps_the_last_good_configuration(
    store: CredentialStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="receiver.auth")
    write(path, "[[client]\n")
    assert not store.reload_if_changed()
    assert not store.reload_if_changed()  # the same broken file is reported once
    path.unlink()
    assert not store.reload_if_changed()
    assert asyncio.run(store.authenticate(f"Bearer {TOKEN}", None)).source == "easypark"
    write(path, bearer_client())
    assert store.reload_if_changed()
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING", "WARNING", "INFO"]
    assert "not valid TOML" in messages[0][1]
    assert "keeping last good configuration" in messages[0][1]
    assert "clients=2" in messages[0][1]
    assert "No such file" in messages[1][1]
    assert "credentials reloaded" in messages[2][1]
    assert "clients=1" in messages[2][1]


def test_errors_share_one_root_and_principal_is_frozen() -> None:
    assert issubclass(AuthError, AccessDenied)
    assert issubclass(Forbidden, AccessDenied)
    assert issubclass(RateLimited, AccessDenied)
    principal = Principal("stockholm", "easypark", "bearer:01234567")
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.tenant = "malmo"  # type: ignore[misc]


# --- no secret in logs or errors --------------------------------------------------------------


def test_no_secret_is_ever_logged_or_raised(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "credentials.toml"
    write(path, bearer_client(extra="rate_limit = 1") + basic_client())
    store = CredentialStore(path, clock=clock, reload_interval=0)
    errors: list[BaseException] = []

    def attempt(header: str | None, host: str | None = None) -> None:
        try:
            asyncio.run(store.authenticate(header, host))
        except AccessDenied as exc:
            errors.append(exc)

    basic_ok, basic_bad = basic("parkster", PASSWORD), basic("parkster", OTHER_PASSWORD)
    for header in (f"Bearer {TOKEN}", basic_ok, basic_ok, basic_bad, basic("nobody", PASSWORD)):
        attempt(header)
    attempt(f"Bearer {TOKEN}")  # rate limited
    attempt(f"Bearer {OTHER_TOKEN}")
    attempt(TOKEN)  # a bare token where the scheme belongs
    attempt(f"Bearer {TOKEN} {PASSWORD}")
    attempt(basic_ok, "api.malmo.example.com")
    # Broken reloads whose bad values are secrets, then a good one.
    for broken in (
        bearer_client().replace(token_digest(TOKEN), TOKEN),
        basic_client(pw_hash=PASSWORD),
        basic_client(tenant=PASSWORD.replace(":", "")),
        f'[[client]]\npassword_hash = "{PW_HASH}" {TOKEN}\n',
        bearer_client() + bearer_client(),
    ):
        write(path, broken)
        clock.now += 1  # past the rate limit: the last good file still lets the token in
        attempt(f"Bearer {TOKEN}")
    write(path, basic_client(pw_hash=OTHER_HASH))
    attempt(basic_ok)

    assert len(errors) == 8
    assert {r.levelname for r in caplog.records} >= {"DEBUG", "INFO", "WARNING"}
    seen = caplog.text + "\n".join(f"{e!s} {e!r}" for e in errors)
    salt, key = PW_HASH.split("$")[2:]
    secrets = [TOKEN, OTHER_TOKEN, PASSWORD, PASSWORD.replace(":", ""), OTHER_PASSWORD]
    secrets += [PW_HASH, OTHER_HASH, salt, key, token_digest(TOKEN), token_digest(OTHER_TOKEN)]
    secrets += [basic_ok.split()[1], basic_bad.split()[1]]
    for secret in secrets:
        assert secret not in seen
