"""Start and stop a local Triton Inference Server on loopback, for tests, benchmarks and trying things out.

It runs the real `tritonserver` binary that the nvidia-pytriton wheel carries (CPU, Python backend only),
from its own virtual environment: the wheel pins numpy < 2, and the Python backend's stub must run under
the interpreter whose libpython it links (the operating system's python3.11, not a pyenv build).
`make triton-env` creates that environment in `.triton-venv`; DACL_TRITON_VENV points elsewhere.

    with LocalTritonServer(repo) as server:   # repo written with export_repository(..., backend="python")
        print(server.grpc_url)                 # "127.0.0.1:PORT"
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]


class ServerUnavailable(RuntimeError):
    """The local server cannot be started here; the message says why."""


def triton_venv() -> Path:
    """The server's virtual environment: $DACL_TRITON_VENV, else .triton-venv at the project root."""
    return Path(os.environ.get("DACL_TRITON_VENV", ROOT / ".triton-venv"))


def _wheel(venv: Path) -> tuple[Path, Path, str]:
    """(pytriton package dir, its bundled libs dir, the venv's Python "X.Y") or ServerUnavailable."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise ServerUnavailable(f"no Triton server environment at {venv} (create it with `make triton-env`)")
    code = "import sys, pytriton; print(pytriton.__file__); print('%d.%d' % sys.version_info[:2])"
    probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        raise ServerUnavailable(f"{python} cannot import pytriton: {probe.stderr.strip()[-300:]}")
    package_file, version = probe.stdout.split()
    package = Path(package_file).parent
    return package, package.parent / "nvidia_pytriton.libs", version


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalTritonServer:
    """One `tritonserver` process serving ``repo`` on 127.0.0.1 (HTTP and gRPC on free ports)."""

    def __init__(self, repo: str | Path, venv: str | Path | None = None, threads_per_model: int = 1,
                 http_port: int | None = None, grpc_port: int | None = None) -> None:
        self.repo = Path(repo).resolve()
        self.venv = Path(venv) if venv is not None else triton_venv()
        self.threads_per_model = threads_per_model
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.process: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        package, libs, version = _wheel(self.venv)
        server = package / "tritonserver"
        stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.exists():
            raise ServerUnavailable(f"the pytriton wheel has no Python backend stub for Python {version}")
        # the backend looks for its stub inside its own folder, so lay out a backends folder with this
        # interpreter's stub (pytriton's own start-up does the same)
        self._workdir = Path(tempfile.mkdtemp(prefix="dacl-triton-"))
        backend = self._workdir / "backends" / "python"
        backend.mkdir(parents=True)
        for item in (server / "backends" / "python").iterdir():
            if item.is_file():
                (backend / item.name).symlink_to(item)
        shutil.copy(stub, backend / "triton_python_backend_stub")
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (str(libs), env.get("LD_LIBRARY_PATH")) if p)
        env["PATH"] = f"{self.venv / 'bin'}:{env['PATH']}"  # the stub finds its site-packages this way
        env["DACL_TRITON_THREADS"] = str(self.threads_per_model)
        command = [str(server / "bin" / "tritonserver"), f"--model-repository={self.repo}",
                   f"--backend-directory={self._workdir / 'backends'}",
                   f"--cache-directory={server / 'caches'}",
                   "--http-address=127.0.0.1", f"--http-port={self.http_port}",
                   "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
                   "--allow-metrics=false", "--allow-sagemaker=false", "--allow-vertex-ai=false",
                   "--exit-on-error=true", "--strict-readiness=true", "--log-verbose=0"]
        return command, env

    def start(self, timeout_s: float = 120.0) -> LocalTritonServer:
        """Start the server and wait until it and every model are ready; ServerUnavailable if not."""
        command, env = self._prepare()
        self._log = open(self._workdir / "server.log", "w+b")  # noqa: SIM115 - kept for the process' life
        log.info("starting %s", " ".join(command))
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"tritonserver exited with code {self.process.returncode}: "
                                        f"{self.logs()[-1500:]}")
            if self.ready():
                log.info("Triton server ready: gRPC %s, HTTP %s", self.grpc_url, self.http_url)
                return self
            time.sleep(0.2)
        self.stop()
        raise ServerUnavailable(f"tritonserver was not ready after {timeout_s:g} s: {self.logs()[-1500:]}")

    def ready(self) -> bool:
        """True when the server answers /v2/health/ready with 200 (all models loaded)."""
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=1) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def logs(self) -> str:
        """What the server printed so far."""
        if self._log is None:
            return ""
        self._log.flush()
        return (self._workdir / "server.log").read_text(errors="replace")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its working folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> LocalTritonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
