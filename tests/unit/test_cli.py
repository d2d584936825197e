"""The `ticketstream` command's credentials and openapi subcommands: output and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from receiver.credentials import load_credentials, token_digest, verify_password


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ticketstream.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_credentials_add_prints_the_token_once_and_stores_its_digest(tmp_path: Path) -> None:
    file = tmp_path / "credentials.toml"
    result = run(
        "credentials", "add", "--file", str(file), "--tenant", "stockholm", "--source", "easypark"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[0]
    [client] = load_credentials(file)
    assert client.token_sha256 == token_digest(token)
    assert (client.tenant, client.source) == ("stockholm", "easypark")
    assert token not in file.read_text()
    assert file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "Stockholm", "--source", "easypark"], "tenant must be"),
        (["--tenant", "stockholm", "--source", "easy/park"], "source must be"),
    ],
)
def test_credentials_add_errors_exit_2_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("credentials", "add", "--file", str(tmp_path / "c.toml"), *args)
    assert result.returncode == 2
    assert result.stderr.startswith("ticketstream credentials add: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_credentials_add_refuses_a_broken_file(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text("[[client]\n")
    result = run("credentials", "add", "--file", str(file), "--tenant", "a", "--source", "b")
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
    assert file.read_text() == "[[client]\n"


def test_hash_password_reads_stdin(tmp_path: Path) -> None:
    result = run("credentials", "hash-password", stdin="pässword\n".encode())
    assert result.returncode == 0, result.stderr
    encoded = result.stdout.strip()
    assert encoded.startswith("scrypt$")
    assert verify_password("pässword", encoded)
    assert "pässword" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "empty password"),
        (b"\n", "empty password"),
        (b"one\ntwo\n", "line break"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_hash_password_errors_exit_2_without_traceback(stdin: bytes, message: str) -> None:
    result = run("credentials", "hash-password", stdin=stdin)
    assert result.returncode == 2
    assert result.stderr.startswith("ticketstream credentials hash-password: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_openapi_check_and_write(tmp_path: Path) -> None:
    assert run("openapi", "--check").returncode == 0
    target = tmp_path / "openapi.json"
    assert run("openapi", "--output", str(target)).returncode == 0
    assert run("openapi", "--check", "--output", str(target)).returncode == 0
    target.write_text("{}")
    stale = run("openapi", "--check", "--output", str(target))
    assert stale.returncode == 1
    assert "out of date" in stale.stderr
