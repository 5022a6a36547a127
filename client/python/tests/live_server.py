"""A real Salient server for the tests: ./salient serve --port 0 on loopback, or the server at
SALIENT_ADDRESS when that is set."""

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "fashion-mnist"


class LiveServer:
    def __init__(self):
        self.address = os.environ.get("SALIENT_ADDRESS")
        self._process = None
        self._log = None

    def start(self) -> str:
        if self.address:
            return self.address
        self._log = tempfile.NamedTemporaryFile(prefix="salient-python-test-", suffix=".log",
                                                delete=False)
        self._process = subprocess.Popen(
            [str(ROOT / "salient"), "serve", "--port", "0"], stdout=subprocess.PIPE,
            stderr=self._log, text=True)
        deadline = time.monotonic() + 240  # the first start may build and unpack libtorch
        for line in self._process.stdout:
            match = re.search(r"Salient listening on [^:]*:(\d+)", line)
            if match:
                self.address = f"127.0.0.1:{match.group(1)}"
                return self.address
            if time.monotonic() > deadline:
                break
        self.stop()
        raise RuntimeError(f"the server did not start; see {self._log.name}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._process = None


def sample(index: int) -> bytes:
    """The PNG bytes of the index-th committed Fashion-MNIST sample."""
    return sorted(SAMPLES.glob("*.png"))[index].read_bytes()
