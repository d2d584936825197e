"""The `ticketstream` command: receiver, worker, dev, tail, topics create, credentials."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ticketstream.logs import configure_logging
from ticketstream.settings import Settings


def _receiver(args: argparse.Namespace) -> int:
    import uvicorn

    from receiver.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from streams.app import create_app

    settings = Settings()
    worker = create_app(settings)
    import faust

    faust.Worker(worker.app, loglevel=settings.log_level).execute_from_commandline()
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    from ticketstream.topics import create_topics

    settings = Settings()
    configure_logging(settings.log_level)
    created = create_topics(settings)
    print(f"topics ready ({len(created)} created)")
    return 0


def _credentials_add(args: argparse.Namespace) -> int:
    from receiver.credentials import cli_add

    print(cli_add(Path(args.file), args.tenant, args.source))
    return 0


def _credentials_hash_password(args: argparse.Namespace) -> int:
    from receiver.credentials import cli_hash_password

    print(cli_hash_password(sys.stdin.read()))
    return 0


def _tail(args: argparse.Namespace) -> int:
    from ticketstream.tail import tail

    return tail(Settings(), args.topic, from_beginning=args.from_beginning)


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

    creds = commands.add_parser("credentials", help="manage client credentials").add_subparsers(
        dest="credentials_command", required=True
    )
    add = creds.add_parser("add", help="create a bearer token and append its digest to a file")
    add.add_argument("--file", required=True, help="credentials TOML file")
    add.add_argument("--tenant", required=True)
    add.add_argument("--source", required=True)
    add.set_defaults(run=_credentials_add)
    creds.add_parser(
        "hash-password", help="read a password on stdin and print its password_hash"
    ).set_defaults(run=_credentials_hash_password)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ticketstream` console script."""
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
