"""scripts/package for one architecture (PACKAGE_ARCH; default arm64 when the toolchain has the aarch64
standard library, else the host's x86_64, which every toolchain has): each zip holds an executable `bootstrap`
built for that architecture, sizes and SHA-256 are printed, and --bucket uploads to {bucket}-{region}."""

import hashlib
import os
import re
import subprocess
import zipfile

import pytest
from conftest import ROOT, workspace_version

def _default_arch() -> str:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    has_aarch64 = os.path.isdir(os.path.join(sysroot, "lib/rustlib/aarch64-unknown-linux-gnu/lib"))
    return "arm64" if has_aarch64 else "x86_64"


ARCH = os.environ.get("PACKAGE_ARCH") or _default_arch()
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
PACKAGES = ("apigw-stream-decode", "apigw-stream-shipper")


@pytest.fixture(scope="module")
def packaged(moto_endpoint, aws, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    regions = ("us-east-1", "eu-west-1")
    for region in regions:
        s3 = aws("s3")
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=f"pkgtest-{region}", **kwargs)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    run = subprocess.run(
        [str(ROOT / "scripts/package"), "--arch", ARCH, "--out", str(out), "--bucket", "pkgtest",
         "--regions", ",".join(regions), "--endpoint-url", moto_endpoint],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, f"scripts/package failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return out, run.stdout, regions


@pytest.mark.parametrize("package", PACKAGES)
def test_zip_holds_an_executable_bootstrap_for_the_arch(packaged, package):
    out, _, _ = packaged
    with zipfile.ZipFile(out / f"{package}.zip") as z:
        assert z.namelist() == ["bootstrap"]
        info = z.getinfo("bootstrap")
        mode = info.external_attr >> 16
        assert mode & 0o111, f"bootstrap is not executable (mode {oct(mode)})"
        head = z.read("bootstrap")[:20]
    assert head[:4] == b"\x7fELF"
    assert int.from_bytes(head[18:20], "little") == ELF_MACHINE[ARCH]


def test_sizes_and_hashes_are_printed(packaged):
    out, stdout, _ = packaged
    for package in PACKAGES:
        data = (out / f"{package}.zip").read_bytes()
        line = re.search(rf"^{package}\.zip\s+(\d+)\s+([0-9a-f]{{64}})$", stdout, re.M)
        assert line, f"no size/hash line for {package}:\n{stdout}"
        assert int(line.group(1)) == len(data)
        assert line.group(2) == hashlib.sha256(data).hexdigest()


def test_uploaded_per_region_where_the_templates_look(packaged, aws):
    out, _, regions = packaged
    s3 = aws("s3")
    for region in regions:
        for package in PACKAGES:
            key = f"apigw-stream/{workspace_version()}/{ARCH}/{package}.zip"
            body = s3.get_object(Bucket=f"pkgtest-{region}", Key=key)["Body"].read()
            assert body == (out / f"{package}.zip").read_bytes()


def test_bad_arguments_are_refused():
    run = subprocess.run([str(ROOT / "scripts/package"), "--arch", "sparc"], capture_output=True, text=True)
    assert run.returncode == 2 and "--arch must be arm64 or x86_64" in run.stderr
    run = subprocess.run([str(ROOT / "scripts/package"), "--bucket", "b"], capture_output=True, text=True)
    assert run.returncode == 2 and "--bucket needs --regions" in run.stderr
