"""The credentials file (SPEC §2): validation, password hashing and bearer tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_NAME = re.compile(r"[a-z0-9-]+")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SCRYPT_PARAMS = re.compile(r"n=(?P<n>[0-9]{1,8}),r=(?P<r>[0-9]{1,3}),p=(?P<p>[0-9]{1,3})")
_CLIENT_KEYS = frozenset(
    {"tenant", "source", "token_sha256", "username", "password_hash", "rate_limit", "burst"}
)
# 16 MiB of memory per hash: the interactive-login setting from the scrypt paper.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# A hash string comes from a file an operator edits; bounding its cost keeps a typo
# from turning every Basic request into a gigabyte allocation.
_SCRYPT_MAX_MEMORY = 256 * 2**20
_SALT_BYTES, _KEY_BYTES = 16, 32


class CredentialsError(ValueError):
    """The credentials file or a value destined for it is invalid; never quotes a secret."""


@dataclass(frozen=True, slots=True)
class Client:
    """One `[[client]]` table: a bearer digest or a username with its password hash."""

    tenant: str
    source: str
    token_sha256: str | None = field(default=None, repr=False)
    username: str | None = None
    password_hash: str | None = field(default=None, repr=False)
    rate_limit: float | None = None
    burst: float | None = None

    @property
    def credential_id(self) -> str:
        """A non-secret name for logs and metrics: `bearer:<8 hex>` or `basic:<username>`."""
        if self.token_sha256 is not None:
            return f"bearer:{self.token_sha256[:8]}"
        return f"basic:{self.username}"


@dataclass(frozen=True, slots=True)
class _Scrypt:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL needs 128*r*(n+p+2) bytes; the slack avoids an off-by-a-page refusal.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _check_cost(n: int, r: int, p: int) -> None:
    # The same bounds OpenSSL enforces (n < 2**(16r)), checked on load so no request can hit them.
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or n >= 2 ** (16 * r):
        raise CredentialsError("scrypt needs n a power of two >= 2, 1 <= r <= 64, 1 <= p <= 16")
    if 128 * r * (n + p) > _SCRYPT_MAX_MEMORY:
        raise CredentialsError("scrypt parameters need more than 256 MiB of memory")


def _parse_hash(encoded: str) -> _Scrypt:
    parts = encoded.split("$")
    params = _SCRYPT_PARAMS.fullmatch(parts[1]) if len(parts) == 4 else None
    if parts[0] != "scrypt" or params is None:
        raise CredentialsError("password hash is not of the form scrypt$n=N,r=R,p=P$salt$hash")
    n, r, p = (int(params.group(name)) for name in "nrp")
    _check_cost(n, r, p)
    try:
        salt, key = _b64decode(parts[2]), _b64decode(parts[3])
    except (binascii.Error, ValueError):
        raise CredentialsError("password hash has invalid base64 salt or hash") from None
    if len(salt) < 8 or not 16 <= len(key) <= 64:
        raise CredentialsError("password hash needs a salt of >= 8 bytes and a 16-64 byte hash")
    return _Scrypt(n, r, p, salt, key)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """Hash a password with scrypt into a self-describing `scrypt$n=..,r=..,p=..$salt$hash`."""
    if not password:
        raise CredentialsError("password must not be empty")
    _check_cost(n, r, p)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password.encode("utf-8"), salt, n, r, p, _KEY_BYTES)
    return f"scrypt$n={n},r={r},p={p}${_b64encode(salt)}${_b64encode(key)}"


def verify_password(password: str | bytes, encoded: str) -> bool:
    """Check a password against a `hash_password` string in constant time (runs the KDF)."""
    parsed = _parse_hash(encoded)
    raw = password.encode("utf-8") if isinstance(password, str) else password
    derived = _scrypt(raw, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.key))
    return hmac.compare_digest(derived, parsed.key)


def dummy_hash(like: str | None = None) -> str:
    """A well-formed hash no password matches, costing as much KDF work as `like`."""
    cost = _parse_hash(like) if like is not None else None
    n, r, p = (cost.n, cost.r, cost.p) if cost else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    # Random bytes stand in for the derived key: 2**-256 odds that any password matches.
    salt, key = secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_KEY_BYTES)
    return f"scrypt$n={n},r={r},p={p}${_b64encode(salt)}${_b64encode(key)}"


def generate_token() -> str:
    """A new random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The hex SHA-256 of a bearer token, as stored in `token_sha256`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(kind: str, value: object) -> str:
    """Validate a tenant or source name: lower-case `[a-z0-9-]+` (it becomes part of Kafka keys)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise CredentialsError(f"{kind} must be a non-empty string of [a-z0-9-]")
    return value


def _number(where: str, key: str, value: object, minimum: float, inclusive: bool) -> float:
    # bool is an int subclass, and `rate_limit = true` is a typo, not 1 request per second.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CredentialsError(f"{where}: {key} must be a finite number")
    if value < minimum or (value == minimum and not inclusive):
        relation = ">=" if inclusive else ">"
        raise CredentialsError(f"{where}: {key} must be {relation} {minimum:g}")
    return float(value)


def _client(index: int, table: object) -> Client:
    where = f"client #{index}"
    if not isinstance(table, dict):
        raise CredentialsError(f"{where}: must be a [[client]] table")
    # Unknown keys are errors: a misspelt `rate_limt` would otherwise silently disable a limit.
    unknown = sorted(set(table) - _CLIENT_KEYS)
    if unknown:
        raise CredentialsError(f"{where}: unknown keys {', '.join(map(repr, unknown))}")
    try:
        tenant = check_name("tenant", table.get("tenant"))
        source = check_name("source", table.get("source"))
    except CredentialsError as exc:
        raise CredentialsError(f"{where}: {exc}") from None
    where = f"{where} (tenant={tenant} source={source})"
    digest, username, pw_hash = (
        table.get(k) for k in ("token_sha256", "username", "password_hash")
    )
    if (digest is None) == (username is None and pw_hash is None):
        raise CredentialsError(
            f"{where}: needs exactly one of token_sha256 or username+password_hash"
        )
    if digest is not None:
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise CredentialsError(f"{where}: token_sha256 must be 64 hex digits")
        digest = digest.lower()
    else:
        if not isinstance(username, str) or not username or ":" in username:
            raise CredentialsError(f"{where}: username must be a non-empty string without ':'")
        if not isinstance(pw_hash, str):
            raise CredentialsError(f"{where}: username needs a password_hash string")
        try:
            _parse_hash(pw_hash)
        except CredentialsError as exc:
            raise CredentialsError(f"{where}: {exc}") from None
    rate, burst = table.get("rate_limit"), table.get("burst")
    if rate is None:
        if burst is not None:
            raise CredentialsError(f"{where}: burst needs rate_limit")
        return Client(tenant, source, digest, username, pw_hash)
    rate_limit = _number(where, "rate_limit", rate, 0, inclusive=False)
    # A bucket below one token would refuse every request; by default hold one second's worth.
    size = (
        max(1.0, rate_limit) if burst is None else _number(where, "burst", burst, 1, inclusive=True)
    )
    return Client(tenant, source, digest, username, pw_hash, rate_limit, size)


def parse_credentials(text: str) -> tuple[Client, ...]:
    """Parse and validate the text of a credentials file."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages give a position and at most one character, never a value.
        raise CredentialsError(f"not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"client"})
    if unknown:
        raise CredentialsError(f"unknown top-level keys {', '.join(map(repr, unknown))}")
    tables = document.get("client", [])
    if not isinstance(tables, list):
        raise CredentialsError("client must be an array of tables ([[client]])")
    clients = tuple(_client(i, table) for i, table in enumerate(tables, start=1))
    seen: dict[str, int] = {}
    for i, client in enumerate(clients, start=1):
        key = f"d:{client.token_sha256}" if client.token_sha256 else f"u:{client.username}"
        if key in seen:
            what = "token_sha256" if client.token_sha256 else f"username {client.username!r}"
            raise CredentialsError(f"client #{i}: duplicate {what} (first in client #{seen[key]})")
        seen[key] = i
    return clients


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{path} is not UTF-8") from None


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags)
    except OSError as exc:
        raise CredentialsError(f"cannot open {path}: {exc.strerror or exc}") from None


def load_credentials(path: Path) -> tuple[Client, ...]:
    """Read and validate a credentials file."""
    return parse_credentials(_read_text(path))


def add_bearer_client(path: Path, tenant: str, source: str) -> str:
    """Append a new bearer client's digest to the file (created 0600); return its token."""
    check_name("tenant", tenant)
    check_name("source", source)
    token = generate_token()
    added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    block = (
        f'[[client]]  # added {added}\ntenant = "{tenant}"\nsource = "{source}"\n'
        f'token_sha256 = "{token_digest(token)}"\n'
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        created, lead = True, "# ticketstream credentials (SPEC §2)\n\n"
    except FileExistsError:
        text = _read_text(path)
        # Appending to a broken file would leave it broken, with a token nobody can use.
        parse_credentials(text)
        created, lead = False, "" if not text else "\n" if text.endswith("\n") else "\n\n"
        fd = _open(path, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        raise CredentialsError(f"cannot create {path}: {exc.strerror or exc}") from None
    data = (lead + block).encode("utf-8")
    try:
        if created:
            os.fchmod(fd, 0o600)  # the umask may have narrowed it; 0600 is the contract
        # One O_APPEND write: the hot reload sees the old file or the whole block.
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {path}")
    except OSError as exc:
        if created:
            path.unlink(missing_ok=True)
        raise CredentialsError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return token


def cli_add(file: Path, tenant: str, source: str) -> str:
    """`credentials add`: create a bearer client and return the text to print (token first)."""
    token = add_bearer_client(file, tenant, source)
    credential_id = Client(tenant, source, token_sha256=token_digest(token)).credential_id
    return (
        f"{token}\n\n"
        "This bearer token is shown once and cannot be recovered: store it now.\n"
        f"Only its SHA-256 digest was appended to {file} "
        f"(tenant={tenant} source={source} credential_id={credential_id}).\n"
    )


def cli_hash_password(stdin_text: str) -> str:
    """`credentials hash-password`: hash the password read on stdin (one trailing newline off)."""
    password = stdin_text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CredentialsError("empty password on stdin")
    # A line break left inside is almost surely a second newline from `echo`, not intent.
    if "\n" in password or "\r" in password:
        raise CredentialsError("password contains a line break")
    return hash_password(password)
