"""receiver.credentials: the credentials file, password hashing, bearer tokens, CLI helpers."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest

from receiver.credentials import (
    Client,
    CredentialsError,
    add_bearer_client,
    cli_add,
    cli_hash_password,
    dummy_hash,
    generate_token,
    hash_password,
    load_credentials,
    parse_credentials,
    token_digest,
    verify_password,
)

# Small scrypt cost so the suite stays fast; the default cost has its own test.
FAST = {"n": 16, "r": 1, "p": 1}
DIGEST = "0123456789abcdef" * 4
SECRET = "s3cret-VALUE-that-must-not-leak"
PW_HASH = hash_password("hunter2", **FAST)


def toml_value(value: object) -> str:
    """A scalar as TOML (enough for these tests: no escaping)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def toml_client(**fields: object) -> str:
    """One [[client]] table with the given fields; None leaves a field out."""
    lines = [f"{key} = {toml_value(value)}" for key, value in fields.items() if value is not None]
    return "\n".join(["[[client]]", *lines]) + "\n"


def bearer(**extra: object) -> str:
    """A valid bearer client, with fields overridden or added."""
    return toml_client(
        **{"tenant": "stockholm", "source": "easypark", "token_sha256": DIGEST} | extra
    )


def basic(**extra: object) -> str:
    """A valid basic client, with fields overridden or added."""
    fields = {"tenant": "stockholm", "source": "parkster", "username": "parkster"}
    return toml_client(**fields | {"password_hash": PW_HASH} | extra)


# --- password hashing -------------------------------------------------------------------------


def test_hash_password_default_cost_is_self_describing_scrypt() -> None:
    encoded = hash_password("correct horse battery staple")
    assert re.fullmatch(r"scrypt\$n=16384,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", encoded)
    assert verify_password("correct horse battery staple", encoded)
    assert not verify_password("correct horse battery stapler", encoded)


def test_hash_password_is_salted() -> None:
    first, second = hash_password("same", **FAST), hash_password("same", **FAST)
    assert first != second
    assert verify_password("same", first)
    assert verify_password("same", second)


def test_verify_password_takes_str_or_utf8_bytes() -> None:
    encoded = hash_password("lösenord:med kolon", **FAST)
    assert verify_password("lösenord:med kolon", encoded)
    assert verify_password("lösenord:med kolon".encode(), encoded)
    assert not verify_password(b"l\xf6senord:med kolon", encoded)


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(1, 1, 1), (15, 1, 1), (16, 0, 1), (16, 1, 0), (16, 1, 17), (2**16, 1, 1), (2**20, 8, 1)],
)
def test_hash_password_rejects_unusable_cost(n: int, r: int, p: int) -> None:
    with pytest.raises(CredentialsError, match="scrypt"):
        hash_password("pw", n=n, r=r, p=p)


def test_hash_password_rejects_empty_password() -> None:
    with pytest.raises(CredentialsError, match="empty"):
        hash_password("")


SALT, KEY = base64.b64encode(b"s" * 16).decode(), base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        SECRET,
        f"pbkdf2_sha256$600000${SALT}${KEY}",
        f"scrypt$n=16,r=1${SALT}${KEY}",
        f"scrypt$n=16,r=1,p=1${SALT}${KEY}$extra",
        f"scrypt$n=15,r=1,p=1${SALT}${KEY}",
        f"scrypt$n=16,r=1,p=1$!{SECRET}!${KEY}",
        f"scrypt$n=16,r=1,p=1${SALT}$!{SECRET}",
        f"scrypt$n=16,r=1,p=1$c2FsdA${KEY}",  # 4-byte salt
        f"scrypt$n=16,r=1,p=1${SALT}$c2hvcnQ",  # 5-byte key
    ],
)
def test_verify_password_rejects_malformed_hash_without_quoting_it(encoded: str) -> None:
    with pytest.raises(CredentialsError) as info:
        verify_password("pw", encoded)
    assert SECRET not in str(info.value)
    assert SALT not in str(info.value)


def test_dummy_hash_matches_nothing_and_copies_the_cost() -> None:
    like = hash_password("pw", n=32, r=2, p=1)
    dummy = dummy_hash(like)
    assert dummy.startswith("scrypt$n=32,r=2,p=1$")
    assert not verify_password("pw", dummy)
    assert dummy_hash().startswith("scrypt$n=16384,r=8,p=1$")


# --- tokens -----------------------------------------------------------------------------------


def test_generate_token_is_random_and_url_safe() -> None:
    tokens = {generate_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)


def test_token_digest_is_hex_sha256() -> None:
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# --- parsing and validation ---------------------------------------------------------------------


def test_parse_both_kinds_of_client() -> None:
    text = bearer(rate_limit=2.5) + basic(rate_limit=10, burst=30)
    token_client, basic_client = parse_credentials(text)
    assert token_client == Client("stockholm", "easypark", DIGEST, rate_limit=2.5, burst=2.5)
    assert token_client.credential_id == "bearer:01234567"
    assert basic_client.username == "parkster"
    assert basic_client.password_hash == PW_HASH
    assert (basic_client.rate_limit, basic_client.burst) == (10.0, 30.0)
    assert basic_client.credential_id == "basic:parkster"


def test_rate_limit_defaults() -> None:
    (unlimited,) = parse_credentials(bearer())
    assert (unlimited.rate_limit, unlimited.burst) == (None, None)
    (slow,) = parse_credentials(bearer(rate_limit=0.2))
    assert slow.burst == 1.0  # never below one request


def test_client_repr_hides_digest_and_hash() -> None:
    for client in parse_credentials(bearer() + basic()):
        assert DIGEST not in repr(client)
        assert PW_HASH not in repr(client)


def test_empty_file_has_no_clients() -> None:
    assert parse_credentials("") == ()
    assert parse_credentials("# nobody yet\n") == ()


def test_digest_is_normalized_to_lower_case() -> None:
    (client,) = parse_credentials(bearer(token_sha256=DIGEST.upper()))
    assert client.token_sha256 == DIGEST


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (bearer(tenant="Stockholm"), "tenant must be"),
        (bearer(tenant=""), "tenant must be"),
        (bearer(tenant="stock_holm"), "tenant must be"),
        (bearer(tenant=7), "tenant must be"),
        (bearer(source="easy park"), "source must be"),
        (bearer(source="easy/park"), "source must be"),
        (toml_client(tenant="a", token_sha256=DIGEST), "source must be"),
        (toml_client(tenant="a", source="b"), "exactly one of"),
        (bearer(username="u", password_hash=PW_HASH), "exactly one of"),
        (bearer(password_hash=PW_HASH), "exactly one of"),
        (basic(password_hash=None), "password_hash string"),
        (toml_client(tenant="a", source="b", password_hash=PW_HASH), "username must be"),
        (bearer(token_sha256=DIGEST[:-1]), "64 hex"),
        (bearer(token_sha256=DIGEST[:-1] + "g"), "64 hex"),
        (bearer(token_sha256=12), "64 hex"),
        (basic(username=""), "username must be"),
        (basic(username="a:b"), "username must be"),
        (basic(password_hash="plain"), "password hash"),
        (basic(password_hash=5), "password_hash string"),
        (bearer(rate_limit=0), "rate_limit must be >"),
        (bearer(rate_limit=-1.5), "rate_limit must be >"),
        (bearer(rate_limit=True), "rate_limit must be a finite number"),
        (bearer(rate_limit="10"), "rate_limit must be a finite number"),
        (bearer().replace("\n", "\nrate_limit = inf\n", 1), "finite"),
        (bearer().replace("\n", "\nrate_limit = nan\n", 1), "finite"),
        (bearer(rate_limit=1, burst=0.5), "burst must be >= 1"),
        (bearer(burst=5), "burst needs rate_limit"),
        (bearer(rate_limt=5), "unknown keys 'rate_limt'"),
        ("client = 5\n", "array of tables"),
        ("client = [1]\n", "must be a \\[\\[client\\]\\] table"),
        ("clients = []\n", "unknown top-level keys 'clients'"),
        ("[[client]\n", "not valid TOML"),
    ],
)
def test_invalid_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        parse_credentials(text)


def test_errors_name_the_client() -> None:
    with pytest.raises(CredentialsError, match=r"client #2 \(tenant=stockholm source=x\)"):
        parse_credentials(bearer() + bearer(source="x", token_sha256="nope"))


@pytest.mark.parametrize(
    "text",
    [
        bearer(tenant=SECRET),
        bearer(token_sha256=SECRET),
        basic(password_hash=SECRET),
        basic(password_hash=f"scrypt$n=16,r=1,p=1${SECRET}${SECRET}"),
        bearer(note=SECRET),
        f'[[client]]\ntenant = "a"\ntoken_sha256 = "{SECRET}" oops\n',
        bearer() + bearer(),
        basic() + basic(source="other"),
    ],
)
def test_error_messages_never_quote_secrets(text: str) -> None:
    with pytest.raises(CredentialsError) as info:
        parse_credentials(text)
    for secret in (SECRET, SECRET.lower(), DIGEST, PW_HASH):
        assert secret not in str(info.value)


def test_duplicate_digest_is_rejected_whatever_its_case() -> None:
    text = bearer() + bearer(source="other", token_sha256=DIGEST.upper())
    with pytest.raises(CredentialsError, match=r"client #2: duplicate token_sha256 .*client #1"):
        parse_credentials(text)


def test_duplicate_username_is_rejected_even_across_tenants() -> None:
    text = basic() + basic(tenant="malmo")
    with pytest.raises(CredentialsError, match="duplicate username 'parkster'"):
        parse_credentials(text)


def test_load_credentials_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text(bearer() + basic())
    assert len(load_credentials(path)) == 2


def test_load_credentials_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=r"cannot read .*No such file"):
        load_credentials(tmp_path / "absent.toml")


def test_load_credentials_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_bytes(b'[[client]]\ntenant = "\xff"\n')
    with pytest.raises(CredentialsError, match="not UTF-8"):
        load_credentials(path)


# --- add_bearer_client and the CLI helpers -------------------------------------------------------


def test_add_creates_a_0600_file_and_returns_the_token(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    old_umask = os.umask(0o277)  # would narrow the file to 0400
    try:
        token = add_bearer_client(path, "stockholm", "easypark")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (client,) = load_credentials(path)
    assert client == Client("stockholm", "easypark", token_digest(token))
    assert token not in path.read_text()


def test_add_appends_and_keeps_existing_content_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text("# hand-written\n" + basic())
    path.chmod(0o640)
    first = add_bearer_client(path, "stockholm", "easypark")
    second = add_bearer_client(path, "malmo", "easypark")
    assert path.read_text().startswith("# hand-written\n" + basic())
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    digests = [c.token_sha256 for c in load_credentials(path)]
    assert digests == [None, token_digest(first), token_digest(second)]


def test_add_to_file_without_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text(bearer().rstrip("\n"))
    token = add_bearer_client(path, "stockholm", "other")
    assert [c.token_sha256 for c in load_credentials(path)] == [DIGEST, token_digest(token)]


def test_add_to_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.touch()
    token = add_bearer_client(path, "stockholm", "easypark")
    assert [c.token_sha256 for c in load_credentials(path)] == [token_digest(token)]


def test_add_refuses_a_broken_file_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text("[[client]\n")
    with pytest.raises(CredentialsError, match="not valid TOML"):
        add_bearer_client(path, "stockholm", "easypark")
    assert path.read_text() == "[[client]\n"


def test_add_validates_names_before_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    with pytest.raises(CredentialsError, match="tenant must be"):
        add_bearer_client(path, "Stockholm", "easypark")
    with pytest.raises(CredentialsError, match="source must be"):
        add_bearer_client(path, "stockholm", "")
    assert not path.exists()


def test_add_into_missing_directory_is_a_credentials_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot create"):
        add_bearer_client(tmp_path / "nope" / "credentials.toml", "stockholm", "easypark")


def test_cli_add_prints_the_token_first_and_says_it_is_shown_once(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    text = cli_add(path, "stockholm", "easypark")
    token = text.splitlines()[0]
    (client,) = load_credentials(path)
    assert client.token_sha256 == token_digest(token)
    assert "shown once" in text
    assert str(path) in text
    assert client.credential_id in text
    assert token_digest(token) not in text


@pytest.mark.parametrize(
    ("stdin", "password"),
    [("pw\n", "pw"), ("pw\r\n", "pw"), ("pw", "pw"), (" pass word \n", " pass word ")],
)
def test_cli_hash_password_strips_one_newline(stdin: str, password: str) -> None:
    encoded = cli_hash_password(stdin)
    assert encoded.startswith("scrypt$n=16384,r=8,p=1$")
    assert verify_password(password, encoded)


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n", "pw\n\n", "two\nlines\n"])
def test_cli_hash_password_rejects_empty_or_multiline(stdin: str) -> None:
    with pytest.raises(CredentialsError):
        cli_hash_password(stdin)
