"""Shared fixtures for the template tests: the repository paths, template loading, and moto's server."""

import io
import os
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode as cfn_decode

ROOT = Path(__file__).resolve().parents[2]
CFN = ROOT / "cloudformation"
TF = ROOT / "terraform"
REGION = "us-east-1"


def load_cfn(name):
    """A template as a dict, short-form intrinsics (!Ref, !Sub ...) expanded, as cfn-lint reads it."""
    template, errors = cfn_decode(str(CFN / name))
    assert not errors, f"{name} does not parse: {errors}"
    return template


def workspace_version():
    text = (ROOT / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1]
    for line in section.splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no version in [workspace.package] of Cargo.toml")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_command(port):
    # moto's own server with the CloudFormation handlers moto lacks (see moto_server_cfn.py).
    python = Path(os.environ.get("MOTO_SERVER", ROOT / "target/venv/bin/moto_server")).parent / "python"
    assert python.exists(), f"{python} not found: run scripts/setup-test-env"
    return [str(python), str(Path(__file__).with_name("moto_server_cfn.py")), "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server on a free 127.0.0.1 port for the whole session; stopped at the end."""
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            _moto_command(port),
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("MOTO_LOG", os.devnull), "w"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
    pytest.fail("moto_server did not start")


@pytest.fixture(scope="session")
def aws(moto_endpoint):
    """aws("sqs") -> a boto3 client for moto's server (dummy credentials, us-east-1)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(service):
        return session.client(service, endpoint_url=moto_endpoint)

    return client


def bootstrap_zip():
    """A minimal function zip: an executable `bootstrap` (moto stores the code, it does not run it here)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, b"#!/bin/sh\nexit 0\n")
    return buf.getvalue()


