"""wss:// and https:// when the hall's config names a certificate and key; a certificate or key
that cannot be used stops the start with one line naming the setting and the file (exit 2)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import urllib.request

import pytest

from harness.servers import ROOT, credential, hall_config, write_hall_config
from queue_server import protocol as P
from queue_server.client import Disconnected, HallClient
from queue_server.config import tls_context
from queue_server.errors import ConfigError
from queue_server.server import QueueServer
from queue_server.storage import Store


@pytest.fixture
def certificate(tmp_path):
    return _make_certificate(tmp_path)


def _make_certificate(folder):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: scripts/setup.sh installs it")
    cert, key = folder / "hall.crt", folder / "hall.key"
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


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """Files a careless administrator might name: {what: path} (made once: RSA keys are slow)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _make_certificate(folder)
    other_key, locked_key = folder / "other.key", folder / "locked.key"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(other_key))  # fmt: skip
    _openssl("pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out", str(locked_key))
    garbled = folder / "garbled.crt"
    garbled.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
    )
    text = folder / "notes.txt"
    text.write_text("the certificate is on the USB stick\n")
    return {"cert": cert, "key": key, "other_key": other_key, "locked_key": locked_key,
            "garbled": garbled, "text": text, "missing": folder / "missing.crt",
            "folder": folder}  # fmt: skip


@pytest.mark.parametrize(
    ("cert", "key", "field", "named", "words"),
    [
        ("missing", "key", "tls_cert", "missing", "No such file"),
        ("cert", "missing", "tls_key", "missing", "No such file"),
        ("folder", "key", "tls_cert", "folder", "directory"),
        ("text", "key", "tls_cert", "text", "no PEM certificate"),
        ("cert", "text", "tls_key", "text", "no PEM private key"),
        ("garbled", "key", "tls_cert", "garbled", "not a usable certificate"),
        ("cert", "other_key", "tls_key", "other_key", "does not match"),
        ("cert", "locked_key", "tls_key", "locked_key", "passphrase"),
    ],
)
def test_unusable_tls_files_are_refused_naming_the_setting_and_the_file(
    bad_files, cert, key, field, named, words
):
    config = hall_config("sqlite://")
    server = config.server.model_copy(
        update={"tls_cert": str(bad_files[cert]), "tls_key": str(bad_files[key])}
    )
    with pytest.raises(ConfigError) as info:
        tls_context(server, source="hall.toml")
    error = info.value
    assert error.field == f"server.{field}"
    assert str(error).startswith(f"hall.toml: server.{field}: ")
    assert str(bad_files[named]) in str(error) and words in str(error)
    assert "\n" not in str(error)


async def test_start_turns_an_unusable_certificate_into_a_config_error(tmp_path, bad_files):
    """Files that changed after the config was loaded: start says so as a ConfigError (main.py
    server exits 2 with its line), not with an ssl traceback."""
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    server_settings = config.server.model_copy(
        update={"tls_cert": str(bad_files["garbled"]), "tls_key": str(bad_files["key"])}
    )
    config = config.model_copy(update={"server": server_settings})
    server = QueueServer(config, Store(config), host="127.0.0.1", port=0)
    try:
        with pytest.raises(ConfigError, match="server.tls_cert"):
            await server.start()
    finally:
        await server.stop()


def test_main_py_server_with_a_missing_certificate_says_so_in_one_line_and_exits_2(tmp_path):
    path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    missing = tmp_path / "no-such.crt"
    text = path.read_text(encoding="utf-8")
    text = text.replace('public_url = "http://', 'public_url = "https://')
    text = text.replace('# tls_cert = "/etc/yikou/hall.crt"', f'tls_cert = "{missing}"')
    path.write_text(text.replace('# tls_key = "/etc/yikou/hall.key"', f'tls_key = "{missing}"'))
    done = subprocess.run(
        [sys.executable, "main.py", "server", "--config", str(path), "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "server.tls_cert" in lines[0] and str(missing) in lines[0]
    # Refused before the database was opened: nothing was created.
    assert not (tmp_path / "hall.db").exists()
