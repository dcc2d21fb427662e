//! ECDSA P-256 keys: generation, PEM in and out (PKCS#8, encrypted PKCS#8, SEC1, SPKI),
//! and the public-key hint model_signing uses to name a key.

use p256::{
    ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer, signature::Verifier},
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding},
};
use sha2::{Digest, Sha256};

use crate::error::{ReleaseError, Result};

/// A private signing key. Its material never appears in `Debug` output or logs.
pub struct PrivateKey {
    inner: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(P-256, {})", self.public().hint())
    }
}

/// A public verification key and its normalized PEM text.
#[derive(Clone)]
pub struct PublicKey {
    inner: VerifyingKey,
    pem: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(P-256, {})", self.hint())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.pem == other.pem
    }
}

impl PrivateKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> PrivateKey {
        PrivateKey {
            inner: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED PRIVATE
    /// KEY`, needs `passphrase`) or SEC1 (`EC PRIVATE KEY`), as openssl and model_signing
    /// write them. Only P-256 is accepted.
    pub fn from_pem(name: &str, pem: &str, passphrase: Option<&[u8]>) -> Result<PrivateKey> {
        let err = |message: String| ReleaseError::Key {
            name: name.to_string(),
            message,
        };
        let inner = if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let pass = passphrase
                .ok_or_else(|| err("the key is encrypted; a passphrase is needed".into()))?;
            SigningKey::from_pkcs8_encrypted_pem(pem, pass)
                .map_err(|_| err("wrong passphrase, or not an encrypted P-256 key".into()))?
        } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
            SigningKey::from_pkcs8_pem(pem).map_err(|e| err(format!("not a P-256 PKCS#8 key ({e}); model_signing signs with P-256, P-384 or P-521, Assay with P-256")))?
        } else if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            p256::SecretKey::from_sec1_pem(pem)
                .map(SigningKey::from)
                .map_err(|e| err(format!("not a P-256 SEC1 key ({e})")))?
        } else {
            return Err(err("not a PEM private key (expected PRIVATE KEY, ENCRYPTED PRIVATE KEY or EC PRIVATE KEY)".into()));
        };
        Ok(PrivateKey { inner })
    }

    /// PKCS#8 PEM encrypted with `passphrase`: PBES2 with PBKDF2-HMAC-SHA256 (600,000
    /// iterations) and AES-256-CBC, what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes.
    /// PBKDF2 rather than scrypt keeps signing within a few MiB of memory.
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> Result<String> {
        use pkcs8::{PrivateKeyInfo, pkcs5::pbes2};
        use rand_core::RngCore;
        let err = |e: String| ReleaseError::Key {
            name: self.public().hint(),
            message: format!("cannot encrypt the key: {e}"),
        };
        let der = self.inner.to_pkcs8_der().map_err(|e| err(e.to_string()))?;
        let info = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| err(e.to_string()))?;
        let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
        rand_core::OsRng.fill_bytes(&mut salt);
        rand_core::OsRng.fill_bytes(&mut iv);
        let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(600_000, &salt, &iv)
            .map_err(|e| err(e.to_string()))?;
        let doc = info
            .encrypt_with_params(params, passphrase)
            .map_err(|e| err(e.to_string()))?;
        doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| err(e.to_string()))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_verifying_key(*self.inner.verifying_key())
    }

    /// A DER-encoded ECDSA-SHA256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.inner.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

impl PublicKey {
    fn from_verifying_key(inner: VerifyingKey) -> PublicKey {
        let pem = inner
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 point always encodes");
        PublicKey { inner, pem }
    }

    /// Reads an SPKI PEM public key (`PUBLIC KEY`).
    pub fn from_pem(name: &str, pem: &str) -> Result<PublicKey> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self::from_verifying_key)
            .map_err(|e| ReleaseError::Key {
                name: name.to_string(),
                message: format!("not a P-256 public key in SPKI PEM ({e})"),
            })
    }

    /// The normalized PEM text (64-column base64, LF, trailing newline).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// model_signing's key hint: hex SHA-256 of the normalized PEM text.
    pub fn hint(&self) -> String {
        hex::encode(Sha256::digest(self.pem.as_bytes()))
    }

    /// Checks a DER-encoded ECDSA-SHA256 signature over `message`. Raw `r||s` is refused,
    /// as model_signing refuses it.
    pub fn verify(&self, message: &[u8], der: &[u8]) -> Result<()> {
        let sig = Signature::from_der(der).map_err(|_| ReleaseError::BadSignature)?;
        self.inner
            .verify(message, &sig)
            .map_err(|_| ReleaseError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let k = PrivateKey::generate();
        let sig = k.sign(b"payload");
        k.public().verify(b"payload", &sig).unwrap();
        assert!(matches!(
            k.public().verify(b"other", &sig),
            Err(ReleaseError::BadSignature)
        ));
        assert!(
            PrivateKey::generate()
                .public()
                .verify(b"payload", &sig)
                .is_err()
        );
    }

    #[test]
    fn encrypted_pem_round_trips_and_needs_the_passphrase() {
        let k = PrivateKey::generate();
        let pem = k.to_encrypted_pem(b"correct horse").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let back = PrivateKey::from_pem("k", &pem, Some(b"correct horse")).unwrap();
        assert_eq!(back.public(), k.public());
        assert!(PrivateKey::from_pem("k", &pem, Some(b"wrong")).is_err());
        assert!(PrivateKey::from_pem("k", &pem, None).is_err());
        assert!(
            !format!("{k:?}").contains("BEGIN"),
            "debug output shows no key material"
        );
    }

    #[test]
    fn hint_is_over_normalized_pem() {
        let k = PrivateKey::generate().public();
        let crlf = k.pem().replace('\n', "\r\n");
        let again = PublicKey::from_pem("p", &crlf).unwrap();
        assert_eq!(again.hint(), k.hint());
        assert_eq!(k.hint().len(), 64);
        assert!(k.pem().ends_with("-----END PUBLIC KEY-----\n"));
    }
}
