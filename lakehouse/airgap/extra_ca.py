"""The CA certificates this machine trusts beyond a base image's own, for `docker build`.

Behind a TLS-intercepting proxy (a corporate network, or this workplace) pip and Maven inside a build
fail with "certificate verify failed" unless they trust the proxy's CA. Both Dockerfiles read extra
CAs from `ops/docker/ca-certificates/*.crt` for their download stages only. This module finds them:
every certificate of the host's bundle that the base image's bundle lacks.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_FOLDER = Path(__file__).resolve().parents[2] / "ops" / "docker" / "ca-certificates"
EXTRA_FILE_NAME = "host-extra.crt"

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


def certificates(pem: str) -> list[str]:
    """The PEM certificate blocks of a bundle, in order."""
    return _CERTIFICATE.findall(pem)


def _fingerprint(block: str) -> str:
    # The base64 body alone: line wrapping and trailing blanks differ between bundle writers.
    return "".join(block.split())


def extra_certificates(host_pem: str, image_pem: str) -> list[str]:
    """Certificates of the host bundle missing from the image bundle (each once, host order)."""
    known = {_fingerprint(block) for block in certificates(image_pem)}
    extra: list[str] = []
    for block in certificates(host_pem):
        key = _fingerprint(block)
        if key not in known:
            known.add(key)
            extra.append(block)
    return extra


def image_bundle(image: str) -> str:
    """The CA bundle inside a (local) image."""
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "cat", image, IMAGE_BUNDLE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"cannot read {IMAGE_BUNDLE} from {image}: {result.stderr.strip()}")
    return result.stdout


def write_extra_ca(image: str, folder: Path = CA_FOLDER, host_bundle: Path = HOST_BUNDLE) -> int:
    """Write the host's extra CAs (relative to `image`) to folder/host-extra.crt; return how many.

    With none, any earlier file is removed, so a build never trusts a stale certificate.
    """
    target = folder / EXTRA_FILE_NAME
    extra = extra_certificates(host_bundle.read_text(), image_bundle(image)) if host_bundle.exists() else []
    if not extra:
        target.unlink(missing_ok=True)
        log.info("no CA certificates beyond %s's own: builds use the image's bundle only", image)
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(extra) + "\n")
    log.info("%d CA certificate(s) this machine trusts beyond %s's written to %s", len(extra), image, target)
    return len(extra)
