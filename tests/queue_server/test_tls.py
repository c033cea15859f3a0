"""wss:// and https:// when the hall's config names a certificate and key."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.request

import pytest

from queue_server import protocol as P
from queue_server.client import Disconnected, HallClient
from queue_server.server import QueueServer
from queue_server.storage import Store
from tests.queue_server.server_support import credential, hall_config


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: scripts/setup.sh installs it")
    cert, key = tmp_path / "hall.crt", tmp_path / "hall.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_the_server_speaks_wss_and_https_with_the_configured_certificate(
    tmp_path, certificate
):
    cert, key = certificate
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    server_settings = config.server.model_copy(update={"tls_cert": str(cert), "tls_key": str(key)})
    config = config.model_copy(update={"server": server_settings})
    server = QueueServer(config, Store(config), host="127.0.0.1", port=0)
    await server.start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        auth = P.DeviceAuth(device_id="kiosk-1", token=credential("kiosk-1"))
        client = HallClient(f"wss://127.0.0.1:{server.port}/ws", auth, ssl=trust)
        welcome = await client.connect()
        assert welcome["role"] == "kiosk"
        await client.close()

        # A client that does not trust the certificate cannot connect.
        stranger = HallClient(
            f"wss://127.0.0.1:{server.port}/ws", auth, ssl=ssl.create_default_context()
        )
        with pytest.raises(Disconnected):
            await stranger.connect(timeout=3)

        # Plain HTTP on the TLS port is refused; HTTPS answers.
        import asyncio

        def fetch() -> bytes:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{server.port}/healthz", context=trust, timeout=5
            ) as response:
                return response.read()

        body = await asyncio.get_running_loop().run_in_executor(None, fetch)
        assert b'"database": true' in body
    finally:
        await server.stop()
