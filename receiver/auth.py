"""Who sent a webhook (SPEC §2): Bearer and Basic credentials, Host tenant, rate limits."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from receiver import credentials
from receiver.credentials import Client, CredentialsError
from receiver.errors import Busy, ReceiverError

logger = logging.getLogger(__name__)

# Far above any real credential (a token is 43 characters); bounds the work a request can ask for.
MAX_AUTHORIZATION = 4096
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated sender: tenant and source come from the credential, never the body."""

    tenant: str
    source: str
    credential_id: str


class AccessDenied(ReceiverError):
    """Root of what `authenticate` raises; the HTTP edge maps each subclass to a status."""


class AuthError(AccessDenied):
    """Missing, malformed or wrong credentials (401); `reason` is safe to log."""

    def __init__(self, reason: str, *, credential_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # Set when a known username failed: for logs only, as a response would confirm the name.
        self.credential_id = credential_id


class Forbidden(AccessDenied):
    """The Host header names another tenant than the credential's (403)."""

    def __init__(self, host_tenant: str, *, principal: Principal) -> None:
        super().__init__(
            f"host names tenant {host_tenant[:63]!r}, credential {principal.credential_id} "
            f"belongs to tenant {principal.tenant!r}"
        )
        self.host_tenant = host_tenant
        self.principal = principal


class RateLimited(AccessDenied):
    """The credential is over its rate limit (429); a token is back in `retry_after` seconds."""

    def __init__(self, retry_after: float, *, principal: Principal) -> None:
        super().__init__(f"credential {principal.credential_id} over its rate limit")
        self.retry_after = retry_after
        self.principal = principal


def host_tenant(host: str | None) -> str | None:
    """The tenant a Host header names (`api.{tenant}.…`, any port), or None for any other host."""
    if not host or host.startswith("["):  # absent, or an IPv6 literal
        return None
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    labels = name.strip().lower().rstrip(".").split(".")
    return labels[1] if len(labels) >= 3 and labels[0] == "api" else None


@dataclass(slots=True)
class _Bucket:
    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class _Config:
    clients: tuple[Client, ...]
    by_digest: dict[str, Client]
    by_username: dict[str, Client]
    # Unknown usernames are checked against this so they cost the same KDF time as known ones;
    # it copies the first Basic client's cost. None when no Basic client exists: nothing to probe.
    dummy_hash: str | None


def _key(client: Client) -> str:
    return f"d:{client.token_sha256}" if client.token_sha256 else f"u:{client.username}"


def _put(cache: OrderedDict[bytes, _V], key: bytes, value: _V, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class CredentialStore:
    """The credentials file, reloaded when it changes, authenticating each request."""

    def __init__(
        self,
        path: Path | str,
        *,
        reload_interval: float = 1.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        kdf_threads: int = 2,
        kdf_queue: int = 64,
    ) -> None:
        self._path = Path(path)
        # scrypt holds 16 MiB and tens of milliseconds of CPU per check: a flood of wrong
        # passwords gets these few threads and a bounded queue, then 503, never the whole host.
        self._kdf_pool = ThreadPoolExecutor(kdf_threads, thread_name_prefix="kdf")
        self._kdf_limit = kdf_threads + kdf_queue
        self._kdf_pending = 0
        self._reload_interval = reload_interval
        self._cache_size = cache_size
        self._clock = clock
        # Cache keys are HMACs under a per-process key, so a memory dump holds no unsalted,
        # brute-forceable hash of a password.
        self._cache_key = secrets.token_bytes(32)
        # Two caches so a flood of wrong guesses cannot evict the legitimate clients' entries.
        self._verified: OrderedDict[bytes, Client] = OrderedDict()
        self._rejected: OrderedDict[bytes, str | None] = OrderedDict()  # -> credential_id
        self._inflight: dict[tuple[int, bytes], asyncio.Future[bool]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._generation = 0
        self._signature = self._stat()
        self._install(credentials.load_credentials(self._path))
        self._checked_at = clock()
        logger.info("credentials loaded path=%s clients=%d", self._path, self.client_count)

    @property
    def client_count(self) -> int:
        """How many clients the configuration in force has."""
        return len(self._config.clients)

    async def authenticate(self, authorization: str | None, host: str | None) -> Principal:
        """Resolve the Authorization header to a Principal or raise an AccessDenied subclass."""
        self._maybe_reload()
        try:
            client = await self._identify(authorization)
        except AuthError as exc:
            logger.debug("authentication failed reason=%s", exc.reason)
            raise
        principal = Principal(client.tenant, client.source, client.credential_id)
        named = host_tenant(host)
        if named is not None and named != client.tenant:
            raise Forbidden(named, principal=principal)
        bucket = self._buckets.get(_key(client))
        wait = bucket.take(self._clock()) if bucket is not None else 0.0
        if wait > 0:
            raise RateLimited(wait, principal=principal)
        return principal

    def close(self) -> None:
        """Stop the password-check threads; checks not yet started are cancelled."""
        self._kdf_pool.shutdown(wait=False, cancel_futures=True)

    def reload_if_changed(self) -> bool:
        """Reload if the file's inode, size or mtime changed; on error keep the last good one."""
        signature = self._stat()
        if signature == self._signature:
            return False
        # Remember even a broken version, so it is reported once rather than every interval.
        self._signature = signature
        try:
            clients = credentials.load_credentials(self._path)
        except Exception as exc:
            # Only our own messages are known to be free of file content; name anything else.
            why = str(exc) if isinstance(exc, CredentialsError) else type(exc).__name__
            logger.warning(
                "credentials reload failed, keeping last good configuration path=%s clients=%d "
                "error=%s",
                self._path,
                self.client_count,
                why,
            )
            return False
        self._install(clients)
        logger.info("credentials reloaded path=%s clients=%d", self._path, len(clients))
        return True

    def _maybe_reload(self) -> None:
        # Synchronous on purpose: a stat per interval and a rare read of a few kilobytes cost
        # less than a hop to a worker thread.
        now = self._clock()
        if now - self._checked_at >= self._reload_interval:
            self._checked_at = now
            self.reload_if_changed()

    def _stat(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def _install(self, clients: tuple[Client, ...]) -> None:
        first_hash = next((c.password_hash for c in clients if c.password_hash), None)
        self._config = _Config(
            clients,
            {c.token_sha256: c for c in clients if c.token_sha256},
            {c.username: c for c in clients if c.username},
            credentials.dummy_hash(first_hash) if first_hash else None,
        )
        # A new generation keeps KDF results begun under the old file out of the new caches.
        self._generation += 1
        self._verified.clear()
        self._rejected.clear()
        old, now = self._buckets, self._clock()
        self._buckets = {}
        for c in clients:
            if c.rate_limit is None or c.burst is None:
                continue
            kept = old.get(_key(c))
            if kept is not None and (kept.rate, kept.burst) == (c.rate_limit, c.burst):
                self._buckets[_key(c)] = kept  # a reload must not refill a drained bucket
            else:
                self._buckets[_key(c)] = _Bucket(c.rate_limit, c.burst, c.burst, now)

    async def _identify(self, authorization: str | None) -> Client:
        if authorization is None or not authorization.strip():
            raise AuthError("missing Authorization header")
        if len(authorization) > MAX_AUTHORIZATION:
            raise AuthError("Authorization header too long")
        # Never quote the scheme: a client that forgot it sends the bare secret in its place.
        scheme, *rest = authorization.split(None, 1)
        param = rest[0].strip() if rest else ""
        if scheme.lower() == "bearer":
            return self._bearer(param)
        if scheme.lower() == "basic":
            return await self._basic(param)
        raise AuthError("unsupported authorization scheme (expected Bearer or Basic)")

    def _bearer(self, token: str) -> Client:
        if not token or token.split() != [token] or not token.isascii():
            raise AuthError("malformed Bearer credentials")
        # A dict lookup by digest is not constant-time, and need not be: what its timing could
        # leak is how the SHA-256 of the *presented* token compares with stored digests, and
        # knowing digest prefixes brings no one closer to a token that hashes to one of them.
        client = self._config.by_digest.get(credentials.token_digest(token))
        if client is None:
            raise AuthError("unknown Bearer token")
        return client

    async def _basic(self, param: str) -> Client:
        try:
            # Padding is optional in practice; some clients strip it.
            raw = base64.b64decode(param + "=" * (-len(param) % 4), validate=True)
            user, colon, password = raw.partition(b":")
            username = user.decode("utf-8")
        except (binascii.Error, ValueError):
            raise AuthError("malformed Basic credentials") from None
        if not colon or not username:
            raise AuthError("malformed Basic credentials")
        key = hmac.new(self._cache_key, raw, hashlib.sha256).digest()
        if (hit := self._verified.get(key)) is not None:
            self._verified.move_to_end(key)
            return hit
        if key in self._rejected:
            self._rejected.move_to_end(key)
            raise AuthError("wrong username or password", credential_id=self._rejected[key])
        config, generation = self._config, self._generation
        # The username decides only which hash the KDF runs against: unknown names run the
        # dummy, so response time does not tell which usernames exist. The dict lookup itself
        # uses per-process randomized string hashing and leaks nothing measurable.
        client = config.by_username.get(username)
        encoded = client.password_hash if client is not None else config.dummy_hash
        if encoded is None:
            raise AuthError("wrong username or password")
        ok = await self._verify(generation, key, password, encoded) and client is not None
        # A reload during the KDF cleared the caches; a result from the old file stays out.
        credential_id = client.credential_id if client is not None else None
        if generation == self._generation:
            if ok and client is not None:
                _put(self._verified, key, client, self._cache_size)
            else:
                _put(self._rejected, key, credential_id, self._cache_size)
        if not ok or client is None:
            raise AuthError("wrong username or password", credential_id=credential_id)
        return client

    async def _verify(self, generation: int, key: bytes, password: bytes, encoded: str) -> bool:
        flight = (generation, key)
        task = self._inflight.get(flight)
        if task is None:
            if self._kdf_pending >= self._kdf_limit:
                raise Busy("too many password checks waiting")
            # The KDF is tens of milliseconds of CPU: off the event loop, and shared by
            # concurrent requests with the same credentials (a producer's burst after a reload).
            loop = asyncio.get_running_loop()
            task = asyncio.ensure_future(
                loop.run_in_executor(self._kdf_pool, credentials.verify_password, password, encoded)
            )
            self._kdf_pending += 1
            self._inflight[flight] = task
            task.add_done_callback(lambda _: self._kdf_done(flight))
        # One caller disconnecting must not cancel the check the others are waiting on.
        return await asyncio.shield(task)

    def _kdf_done(self, flight: tuple[int, bytes]) -> None:
        self._kdf_pending -= 1
        self._inflight.pop(flight, None)
