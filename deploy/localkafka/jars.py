"""Fetch Apache Kafka's jars from Maven Central once, into a cache outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

DEFAULT_KAFKA_VERSION = "4.1.1"
_POM = Path(__file__).with_name("pom.xml")
_READY_MARKER = ".complete"


class JarFetchError(RuntimeError):
    """Maven could not resolve the Kafka jars."""


def cache_root() -> Path:
    """$TICKETSTREAM_CACHE_DIR, else $XDG_CACHE_HOME/ticketstream, else ~/.cache/ticketstream."""
    explicit = os.environ.get("TICKETSTREAM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ticketstream"


def kafka_jars(
    version: str = DEFAULT_KAFKA_VERSION,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> Path:
    """The folder of Kafka `version` and its runtime dependencies, fetched on first use."""
    target = cache_root() / f"kafka-{version}" / "libs"
    if (target / _READY_MARKER).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarFetchError("Maven (mvn) is not on PATH; it is needed once to fetch Kafka's jars")
    progress(f"fetching Apache Kafka {version} from Maven Central into {target} (first run only)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Resolve into a scratch folder and rename: an interrupted fetch never looks complete.
    scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    try:
        result = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--quiet",
                "--file",
                str(_POM),
                f"-Dkafka.version={version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={scratch}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise JarFetchError(f"mvn failed to resolve kafka_2.13:{version}:\n{tail}")
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        if f"kafka_2.13-{version}.jar" not in jars:
            raise JarFetchError(f"mvn finished but kafka_2.13-{version}.jar is missing: {jars}")
        (scratch / _READY_MARKER).write_text("\n".join(jars) + "\n")
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"fetched {len(list(target.glob('*.jar')))} jars")
    return target
