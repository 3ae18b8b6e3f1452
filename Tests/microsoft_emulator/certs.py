"""Key material: the token-signing key, app certificates and their thumbprints, and the TLS CA (trustme)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode('ascii')


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError('only RSA keys are supported')
    return key


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        return load_private_key(path.read_bytes())
    key = new_rsa_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(private_key_pem(key), encoding='ascii')
    path.chmod(0o600)
    return key


def self_signed_certificate(key: rsa.RSAPrivateKey, common_name: str, days: int = 730) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


@dataclass
class AppCertificate:
    """A certificate registered on an app (public part), with the private key when the emulator made it."""

    certificate_pem: str
    private_key_pem: str | None = None

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode('ascii'))

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def sha1_thumbprint(self) -> str:
        """Hex, upper case, as the Azure portal shows it (what msal's ``thumbprint`` takes)."""
        return hashlib.sha1(self.der, usedforsecurity=False).hexdigest().upper()

    @property
    def sha256_thumbprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest().upper()

    @property
    def x5t(self) -> str:
        return b64url(hashlib.sha1(self.der, usedforsecurity=False).digest())

    @property
    def x5t_s256(self) -> str:
        return b64url(hashlib.sha256(self.der).digest())

    def describe(self) -> dict[str, str | None]:
        cert = self.certificate
        return {
            'certificate_pem': self.certificate_pem,
            'private_key_pem': self.private_key_pem,
            'thumbprint_sha1': self.sha1_thumbprint,
            'thumbprint_sha256': self.sha256_thumbprint,
            'x5t': self.x5t,
            'x5t#S256': self.x5t_s256,
            'subject': cert.subject.rfc4514_string(),
            'not_after': cert.not_valid_after_utc.isoformat(),
        }


def generated_app_certificate(path: Path, common_name: str) -> AppCertificate:
    """Load the app certificate kept at ``path`` (key + certificate PEM), creating it on first use."""
    if path.exists():
        text = path.read_text(encoding='ascii')
        key_end = text.index('-----END PRIVATE KEY-----') + len('-----END PRIVATE KEY-----')
        return AppCertificate(certificate_pem=text[key_end:].strip() + '\n', private_key_pem=text[:key_end] + '\n')
    key = new_rsa_key()
    key_pem = private_key_pem(key)
    cert_pem = self_signed_certificate(key, common_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key_pem + cert_pem, encoding='ascii')
    path.chmod(0o600)
    return AppCertificate(certificate_pem=cert_pem, private_key_pem=key_pem)


def tls_material(folder: Path, hostnames: tuple[str, ...] = ('127.0.0.1', 'localhost', '::1')) -> tuple[Path, Path]:
    """A trustme CA kept in ``folder`` (so clients' CA bundles stay valid across restarts) and a fresh server
    certificate from it. Returns (CA bundle path, server key+chain path)."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = folder / 'ca.pem', folder / 'ca-key.pem'
    if ca_cert.exists() and ca_key.exists():
        ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name='Microsoft emulator (test only)')
        ca.cert_pem.write_to_path(str(ca_cert))
        ca.private_key_pem.write_to_path(str(ca_key))
        ca_key.chmod(0o600)
    server = folder / 'server.pem'
    ca.issue_cert(*hostnames).private_key_and_cert_chain_pem.write_to_path(str(server))
    server.chmod(0o600)
    return ca_cert, server
