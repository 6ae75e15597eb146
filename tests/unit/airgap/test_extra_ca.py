"""Which CAs the image builds must be told about: the host's, minus the base image's own."""

from __future__ import annotations

from lakehouse.airgap.extra_ca import certificates, extra_certificates


def _pem(body: str) -> str:
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"


def test_only_certificates_the_image_lacks_are_extra_each_once() -> None:
    proxy, root, other = _pem("UFJPWFk="), _pem("Uk9PVA=="), _pem("T1RIRVI=")
    host = f"# a comment\n{root}\n{proxy}\n\n{proxy}\n"
    # The image writes the same root with other line breaks: still the same certificate.
    image = f"{root.replace('Uk9P', 'Uk9P' + chr(10))}\n{other}\n"
    assert extra_certificates(host, image) == [proxy]
    assert extra_certificates(image, host) == [other]
    assert certificates("no pem here") == []
