"""The `ticketstream` command: receiver, worker, dev, tail, topics, credentials, openapi."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ticketstream.logs import configure_logging, logging_config
from ticketstream.settings import Settings


def uvicorn_options() -> dict[str, Any]:
    """How the receiver runs under uvicorn (the receiver benchmark serves its baseline alike)."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }


def _receiver(args: argparse.Namespace) -> int:
    import uvicorn

    from receiver.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, **uvicorn_options()
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from streams.app import create_app

    settings = Settings()
    worker = create_app(settings)
    import faust

    faust.Worker(
        worker.app,
        loglevel=settings.log_level,
        logging_config=logging_config(settings.log_level, settings.log_format),
        # The startup banner is not a log line; leave it out of JSON logs.
        quiet=settings.log_format == "json",
    ).execute_from_commandline()
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    from ticketstream.topics import create_topics

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    created = create_topics(settings)
    print(f"topics ready ({len(created)} created)")
    return 0


class UsageError(Exception):
    """A command cannot do what was asked; its message is for the user (exit code 2)."""


def _credentials_add(args: argparse.Namespace) -> int:
    from receiver.credentials import CredentialsError, cli_add

    try:
        print(cli_add(Path(args.file), args.tenant, args.source))
    except CredentialsError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        try:
            return sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("the password on stdin is not UTF-8") from None
    import getpass

    # At a terminal: no echo, and typed twice, since nobody sees a typo until logins fail.
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


def _credentials_hash_password(args: argparse.Namespace) -> int:
    from receiver.credentials import CredentialsError, cli_hash_password

    try:
        print(cli_hash_password(_read_password()))
    except CredentialsError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from receiver.openapi import COMMITTED, openapi_document, render

    text = render(openapi_document())
    target = Path(args.output) if args.output else COMMITTED
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run `ticketstream openapi`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _tail(args: argparse.Namespace) -> int:
    from ticketstream.tail import tail

    return tail(Settings(), args.topic, from_beginning=args.from_beginning)


def _rejected_replay(args: argparse.Namespace) -> int:
    from datetime import datetime

    from ticketstream.replay import Selection, run_replay

    if not (args.all or args.reason or args.key or args.since or args.until):
        print("name what to replay (--reason, --key, --since, --until) or pass --all")
        return 2
    selection = Selection(
        reasons=frozenset(args.reason or ()),
        keys=frozenset(args.key or ()),
        since=datetime.fromisoformat(args.since) if args.since else None,
        until=datetime.fromisoformat(args.until) if args.until else None,
    )
    for line in run_replay(Settings(), selection, dry_run=args.dry_run):
        print(line)
    return 0


def _dev(args: argparse.Namespace) -> int:
    from ticketstream.dev import run_dev

    return run_dev()


def parser() -> argparse.ArgumentParser:
    """The argument parser of the `ticketstream` command."""
    root = argparse.ArgumentParser(prog="ticketstream", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("receiver", help="serve the webhook receiver").set_defaults(run=_receiver)
    commands.add_parser("worker", help="run the stream worker").set_defaults(run=_worker)
    commands.add_parser("dev", help="run Kafka, topics, worker and receiver locally").set_defaults(
        run=_dev
    )

    tail = commands.add_parser("tail", help="print a topic's messages as they arrive")
    tail.add_argument("topic", help="e.g. tickets.normalized")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    tail.set_defaults(run=_tail)

    topics = commands.add_parser("topics", help="manage topics").add_subparsers(
        dest="topics_command", required=True
    )
    topics.add_parser("create", help="create the topics idempotently").set_defaults(
        run=_topics_create
    )

    rejected = commands.add_parser("rejected", help="work with tickets.rejected")
    rejected_commands = rejected.add_subparsers(dest="rejected_command", required=True)
    replay = rejected_commands.add_parser(
        "replay", help="re-publish selected rejections to the events topic (new eventIds)"
    )
    replay.add_argument("--reason", action="append", help="a reason code; repeatable")
    replay.add_argument("--key", action="append", help="a tenant/source/ticketId key; repeatable")
    replay.add_argument("--since", help="rejected at or after this ISO 8601 time (with offset)")
    replay.add_argument("--until", help="rejected before this ISO 8601 time (with offset)")
    replay.add_argument("--all", action="store_true", help="select every rejection")
    replay.add_argument("--dry-run", action="store_true", help="list, publish nothing")
    replay.set_defaults(run=_rejected_replay)

    creds = commands.add_parser("credentials", help="manage client credentials").add_subparsers(
        dest="credentials_command", required=True
    )
    add = creds.add_parser("add", help="create a bearer token and append its digest to a file")
    add.add_argument("--file", required=True, help="credentials TOML file")
    add.add_argument("--tenant", required=True)
    add.add_argument("--source", required=True)
    add.set_defaults(run=_credentials_add, prog=add.prog)
    hash_password = creds.add_parser(
        "hash-password", help="read a password on stdin and print its password_hash"
    )
    hash_password.set_defaults(run=_credentials_hash_password, prog=hash_password.prog)

    openapi = commands.add_parser(
        "openapi", help="write the receiver's OpenAPI document (default: docs/openapi.json)"
    )
    openapi.add_argument("--output", help="file to write, or - for stdout")
    openapi.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the app's document"
    )
    openapi.set_defaults(run=_openapi)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ticketstream` console script."""
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as exc:
        print(f"{getattr(args, 'prog', 'ticketstream')}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
