"""A foreign national system's view of bordermesh.

Nothing here shares code with the Rust workspace: the stubs are generated from proto/ with
grpcio-tools when the session starts, and the mesh is the real `bordermesh up` binary.

Environment:
  BORDERMESH_BIN               the binary (default: <repo>/target/debug/bordermesh)
  BORDERMESH_STARTUP_TIMEOUT   seconds to wait for every port to answer SERVING (default 60)
  BORDERMESH_SHUTDOWN_TIMEOUT  seconds to wait for exit after SIGTERM (default 30)
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from ports import HOST, SERVICES

REPO = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "proto"

# A grpcio client honours http_proxy/https_proxy unless told not to; the mesh is on loopback.
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]

STARTUP_TIMEOUT = float(os.environ.get("BORDERMESH_STARTUP_TIMEOUT", "60"))
SHUTDOWN_TIMEOUT = float(os.environ.get("BORDERMESH_SHUTDOWN_TIMEOUT", "30"))


# --------------------------------------------------------------------------------------------
# Stubs: generated from proto/ once per session, into a temporary directory on sys.path.
# Done at import time of this conftest so that test modules can import them like any package.
# --------------------------------------------------------------------------------------------

def _generate_stubs() -> Path:
    out = Path(tempfile.mkdtemp(prefix="bordermesh-pystubs-"))
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {PROTO_ROOT}")
    # `python -m grpc_tools.protoc` adds grpcio-tools' bundled well-known types
    # (google/protobuf/timestamp.proto) to the include path by itself.
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        "-I", str(PROTO_ROOT),
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    result = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        raise RuntimeError(
            "grpc_tools.protoc failed on proto/:\n" + " ".join(cmd) + "\n" + result.stderr
        )
    return out


STUBS_DIR = _generate_stubs()
sys.path.insert(0, str(STUBS_DIR))


def pytest_unconfigure(config):
    shutil.rmtree(STUBS_DIR, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The mesh: `bordermesh up --data-dir <tmp>` for the whole session.
# --------------------------------------------------------------------------------------------

def _port_in_use(port: int) -> str | None:
    """Why the port cannot be used, or None if it is free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        if s.connect_ex((HOST, port)) == 0:
            return "something accepts connections there"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option a tokio listener sets, so sockets in TIME_WAIT from an earlier run don't count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return "it is already bound by another socket"
            raise
    return None


@dataclass
class Mesh:
    process: subprocess.Popen
    data_dir: Path
    log_path: Path
    channels: dict[int, grpc.Channel] = field(default_factory=dict)

    def channel(self, port: int) -> grpc.Channel:
        if port not in self.channels:
            self.channels[port] = grpc.insecure_channel(f"{HOST}:{port}", options=CHANNEL_OPTIONS)
        return self.channels[port]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_text().splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def close_channels(self) -> None:
        for ch in self.channels.values():
            ch.close()
        self.channels.clear()


def _serving(channel: grpc.Channel, service: str, timeout: float) -> bool:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="session")
def mesh(tmp_path_factory) -> Mesh:
    binary = Path(os.environ.get("BORDERMESH_BIN", REPO / "target" / "debug" / "bordermesh"))
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"bordermesh binary not found or not executable at {binary} "
            "(build it with cargo, or set BORDERMESH_BIN)",
            pytrace=False,
        )

    # 50051-50054 lie in Linux's ephemeral range: an outgoing connection of an earlier test may
    # hold one for a moment after it ends, so wait a little before calling a port busy.
    deadline = time.monotonic() + 30
    while (busy := {port: why for port in SERVICES if (why := _port_in_use(port))}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    if busy:
        detail = "; ".join(f"127.0.0.1:{p}: {why}" for p, why in sorted(busy.items()))
        pytest.fail(
            "cannot start `bordermesh up`: its ports are already in use "
            f"({detail}). Stop whatever listens there (another `bordermesh up`?) and run again.",
            pytrace=False,
        )

    data_dir = tmp_path_factory.mktemp("data")
    log_path = tmp_path_factory.mktemp("log") / "bordermesh-up.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        [str(binary), "up", "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=data_dir,
    )
    log_file.close()  # the child holds its own descriptor
    m = Mesh(process=process, data_dir=data_dir, log_path=log_path)

    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        waiting = set(SERVICES)
        while waiting:
            if process.poll() is not None:
                pytest.fail(
                    f"`bordermesh up` exited with code {process.returncode} before serving; "
                    f"log ({log_path}):\n{m.log_tail()}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"ports {sorted(waiting)} did not answer grpc.health.v1 SERVING for \"\" "
                    f"within {STARTUP_TIMEOUT:.0f} s; log ({log_path}):\n{m.log_tail()}",
                    pytrace=False,
                )
            for port in sorted(waiting):
                if _serving(m.channel(port), "", timeout=1.0):
                    waiting.discard(port)
            if waiting:
                time.sleep(0.25)
    except BaseException:
        m.close_channels()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        raise

    yield m

    # Teardown: a graceful stop on SIGTERM, exit code 0, and the SQLite files left behind.
    m.close_channels()
    if process.poll() is not None:
        pytest.fail(
            f"`bordermesh up` died during the tests with code {process.returncode}; "
            f"log ({log_path}):\n{m.log_tail()}",
            pytrace=False,
        )
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        pytest.fail(
            f"`bordermesh up` did not exit within {SHUTDOWN_TIMEOUT:.0f} s of SIGTERM (killed); "
            f"log ({log_path}):\n{m.log_tail()}",
            pytrace=False,
        )
    assert code == 0, (
        f"`bordermesh up` exited with code {code} after SIGTERM, expected 0; "
        f"log ({log_path}):\n{m.log_tail()}"
    )
    dbs = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*.db"))
    everything = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*"))
    assert dbs, f"no SQLite *.db file left in the data dir {data_dir}; it holds: {everything}"
    for db in dbs:
        # Read-only, so that what the mesh left is looked at, not changed (a -wal is still read).
        with closing(sqlite3.connect(f"file:{data_dir / db}?mode=ro", uri=True)) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        assert integrity == "ok", f"{db} fails PRAGMA integrity_check: {integrity}"
        assert tables > 0, f"{db} is an SQLite file with no tables"
