"""A real single-node KRaft Kafka broker from the cached jars, for tests and `ticketstream dev`."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

from deploy.localkafka.jars import DEFAULT_KAFKA_VERSION, kafka_jars
from ticketstream.processes import stop_process_group

_LOG4J = Path(__file__).with_name("log4j2.properties")


class BrokerStartError(RuntimeError):
    """The broker did not come up; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cluster_id(data_dir: Path) -> str:
    """The id the storage in `data_dir` was formatted with, or a new one for empty storage.

    A restart on kept storage must format with the same id, or the storage tool refuses it.
    """
    meta = data_dir / "logs" / "meta.properties"
    if meta.exists():
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    """The broker's configuration: one node as broker and controller, loopback only."""
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data_dir / "logs"}
# Topics are created explicitly with one partition count (faust crash-loops otherwise).
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""


@dataclass
class LocalKafka:
    """A broker process on loopback; use as a context manager or call start()/stop()."""

    data_dir: Path | None = None
    port: int = 0
    controller_port: int = 0
    version: str = DEFAULT_KAFKA_VERSION
    heap: str = "512m"
    start_timeout: float = 90.0
    progress: Callable[[str], None] = lambda _: None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _owns_dir: bool = field(default=False, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        """host:port for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """The broker's stdout and stderr."""
        assert self.data_dir is not None
        return self.data_dir / "broker.log"

    def start(self) -> LocalKafka:
        """Fetch jars if needed, format storage, start the JVM and wait until it answers."""
        libs = kafka_jars(self.version, progress=self.progress)
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="ticketstream-kafka-"))
            self._owns_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        props = self.data_dir / "server.properties"
        props.write_text(server_properties(self.data_dir, self.port, self.controller_port))
        java = _java()
        classpath = f"{libs}/*"
        self.progress(f"formatting broker storage in {self.data_dir}")
        fmt = subprocess.run(
            [java, "-cp", classpath, f"-Dlog4j2.configurationFile={_LOG4J}",
             "kafka.tools.StorageTool", "format", "--ignore-formatted", "--standalone",
             "-t", cluster_id(self.data_dir), "-c", str(props)],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if fmt.returncode != 0:
            raise BrokerStartError(f"kafka-storage format failed:\n{fmt.stdout}{fmt.stderr}")
        self.progress(f"starting Kafka {self.version} on {self.bootstrap_servers}")
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
                 "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={_LOG4J}",
                 "-cp", classpath, "kafka.Kafka", str(props)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.progress(f"Kafka is ready after {time.monotonic() - started:.1f}s")
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"the broker exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                metadata = admin.list_topics(timeout=1.0)
                if metadata.brokers:
                    return
            time.sleep(0.2)
        raise BrokerStartError(
            f"the broker did not answer within {self.start_timeout:.0f}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the broker's log."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no broker log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; the JVM never outlives this call."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, grace)

    def cleanup(self) -> None:
        """Stop, and delete the data folder if this object created it."""
        self.stop()
        if self._owns_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise BrokerStartError("java is not on PATH (Kafka 4 needs Java 17 or newer)")
    return java
