//! Named keys: the public key on disk (`<data dir>/assay/keys/NAME.pub.pem`, SPKI), the
//! private key — always PKCS#8 encrypted with a passphrase — in the OS keychain when there
//! is one (a `NAME.key.keychain` marker records that), otherwise in `NAME.key.pem` with mode
//! 0600. `ASSAY_KEYCHAIN=off` keeps private keys in files. A key may also be public only
//! (imported to be trusted, not to sign).

use std::path::{Path, PathBuf};

use assay_engine::durable;
use serde::Serialize;

use crate::{
    error::{ReleaseError, Result},
    keychain::Keychain,
    keys::{PrivateKey, PublicKey},
};

/// The key folder.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

/// A key as `assay key list` shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct KeyInfo {
    pub name: String,
    /// model_signing's public-key hint (hex SHA-256 of the public PEM).
    pub hint: String,
    pub has_private: bool,
    /// Where the (encrypted) private key is: `keychain`, `file`, or `none`.
    pub storage: &'static str,
    pub public_path: PathBuf,
}

/// Private keys in the OS keychain, when there is one.
const KEYCHAIN: Keychain = Keychain::new("assay-signing-keys");

/// Whether a PEM text holds a public key (and nothing secret).
pub fn is_public_pem(pem: &str) -> bool {
    pem.contains("PUBLIC KEY-----")
}

fn check_key_name(name: &str) -> Result<()> {
    let ok = crate::release::is_plain_name(name, 64);
    if ok {
        Ok(())
    } else {
        Err(ReleaseError::Invalid {
            what: "key name",
            message: format!("'{name}': use 1-64 letters, digits, '-', '_' or '.'"),
        })
    }
}

/// Writes a key file once: never over an existing one, with the mode given.
fn write_key_file(path: &Path, text: &[u8], mode: durable::Mode) -> Result<()> {
    durable::create(path, text, mode).map_err(|e| ReleaseError::io(path, e))
}

impl KeyStore {
    /// `<data dir>/assay/keys` (`$XDG_DATA_HOME` on Linux).
    pub fn default_dir() -> Result<PathBuf> {
        assay_engine::paths::data_dir()
            .map(|d| d.join("keys"))
            .ok_or(ReleaseError::Invalid {
                what: "data directory",
                message: assay_engine::paths::NO_DATA_DIR.into(),
            })
    }

    pub fn open(dir: PathBuf) -> KeyStore {
        KeyStore { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn private_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key.pem"))
    }

    fn keychain_marker(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key.keychain"))
    }

    fn public_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pub.pem"))
    }

    fn ensure_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ReleaseError::io(&self.dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        }
        Ok(())
    }

    fn refuse_existing(&self, name: &str) -> Result<()> {
        if self.public_path(name).exists()
            || self.private_path(name).exists()
            || self.keychain_marker(name).exists()
        {
            return Err(ReleaseError::Invalid {
                what: "key name",
                message: format!(
                    "a key named '{name}' exists already (remove it with `assay key rm {name}`)"
                ),
            });
        }
        Ok(())
    }

    /// Stores a private key, encrypted with `passphrase`, and its public key.
    pub fn add_private(&self, name: &str, key: &PrivateKey, passphrase: &[u8]) -> Result<KeyInfo> {
        check_key_name(name)?;
        if passphrase.is_empty() {
            return Err(ReleaseError::Invalid {
                what: "passphrase",
                message: "an empty passphrase would store the key unprotected".into(),
            });
        }
        self.ensure_dir()?;
        self.refuse_existing(name)?;
        let encrypted = key.to_encrypted_pem(passphrase)?;
        if KEYCHAIN.put(name, &encrypted) {
            // The marker holds no secret: it only says where the private key is.
            write_key_file(
                &self.keychain_marker(name),
                b"the encrypted private key is in the OS keychain\n",
                durable::Mode::Shared,
            )?;
        } else {
            write_key_file(
                &self.private_path(name),
                encrypted.as_bytes(),
                durable::Mode::Private,
            )?;
        }
        write_key_file(
            &self.public_path(name),
            key.public().pem().as_bytes(),
            durable::Mode::Shared,
        )?;
        self.info(name)
    }

    /// Stores a public key only (a key to trust).
    /// Imports a PEM key made by openssl or model_signing: a public key to trust, or a
    /// private key (PKCS#8 or SEC1, encrypted or not) to sign with. The same passphrase
    /// opens an encrypted source and protects the stored copy; a private key needs one.
    pub fn import(&self, name: &str, pem: &str, passphrase: Option<&[u8]>) -> Result<KeyInfo> {
        if is_public_pem(pem) {
            return self.add_public(name, &PublicKey::from_pem(name, pem)?);
        }
        let pw = passphrase.ok_or(ReleaseError::Invalid {
            what: "passphrase",
            message: format!("a passphrase is needed to protect the private key '{name}'"),
        })?;
        self.add_private(name, &PrivateKey::from_pem(name, pem, Some(pw))?, pw)
    }

    pub fn add_public(&self, name: &str, key: &PublicKey) -> Result<KeyInfo> {
        check_key_name(name)?;
        self.ensure_dir()?;
        self.refuse_existing(name)?;
        write_key_file(
            &self.public_path(name),
            key.pem().as_bytes(),
            durable::Mode::Shared,
        )?;
        self.info(name)
    }

    pub fn info(&self, name: &str) -> Result<KeyInfo> {
        check_key_name(name)?;
        let public_path = self.public_path(name);
        let pem = std::fs::read_to_string(&public_path)
            .map_err(|_| ReleaseError::UnknownKeyName(name.to_string()))?;
        let storage = if self.private_path(name).exists() {
            "file"
        } else if self.keychain_marker(name).exists() {
            "keychain"
        } else {
            "none"
        };
        Ok(KeyInfo {
            name: name.to_string(),
            hint: PublicKey::from_pem(name, &pem)?.hint(),
            has_private: storage != "none",
            storage,
            public_path,
        })
    }

    /// Every key, by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".pub.pem"))
                    .map(String::from)
            })
            .collect();
        names.sort();
        names.iter().map(|n| self.info(n)).collect()
    }

    pub fn public(&self, name: &str) -> Result<PublicKey> {
        check_key_name(name)?;
        let pem = std::fs::read_to_string(self.public_path(name))
            .map_err(|_| ReleaseError::UnknownKeyName(name.to_string()))?;
        PublicKey::from_pem(name, &pem)
    }

    /// Decrypts the private key (the passphrase is needed; it is never stored).
    pub fn private(&self, name: &str, passphrase: &[u8]) -> Result<PrivateKey> {
        check_key_name(name)?;
        let path = self.private_path(name);
        if !path.exists() && self.keychain_marker(name).exists() {
            let pem = KEYCHAIN.get(name).map_err(|e| ReleaseError::Key {
                name: name.into(),
                message: format!("cannot read it from the OS keychain: {e}"),
            })?;
            return PrivateKey::from_pem(name, &pem, Some(passphrase));
        }
        if !path.exists() {
            return Err(if self.public_path(name).exists() {
                ReleaseError::Key {
                    name: name.into(),
                    message: "only the public key is stored; it can verify, not sign".into(),
                }
            } else {
                ReleaseError::UnknownKeyName(name.to_string())
            });
        }
        let pem = std::fs::read_to_string(&path).map_err(|e| ReleaseError::io(&path, e))?;
        PrivateKey::from_pem(name, &pem, Some(passphrase))
    }

    pub fn remove(&self, name: &str) -> Result<KeyInfo> {
        let info = self.info(name)?;
        let _ = std::fs::remove_file(self.private_path(name));
        if self.keychain_marker(name).exists() {
            KEYCHAIN.delete(name);
            let _ = std::fs::remove_file(self.keychain_marker(name));
        }
        std::fs::remove_file(self.public_path(name))
            .map_err(|e| ReleaseError::io(self.public_path(name), e))?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_and_protect() {
        // SAFETY (edition 2024 requires unsafe): tests in this module do not read the
        // environment concurrently with this write.
        unsafe { std::env::set_var("ASSAY_KEYCHAIN", "off") };
        let d = tempfile::tempdir().unwrap();
        let ks = KeyStore::open(d.path().join("keys"));
        let k = PrivateKey::generate();
        let info = ks.add_private("release-2026", &k, b"pw").unwrap();
        assert_eq!(info.hint, k.public().hint());
        assert!(
            ks.add_private("release-2026", &k, b"pw").is_err(),
            "no silent overwrite"
        );
        assert!(ks.add_private("../evil", &k, b"pw").is_err());
        let text = std::fs::read_to_string(d.path().join("keys/release-2026.key.pem")).unwrap();
        assert!(
            text.contains("ENCRYPTED PRIVATE KEY"),
            "never stored in plaintext"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.path().join("keys/release-2026.key.pem"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            ks.private("release-2026", b"pw").unwrap().public(),
            k.public()
        );
        assert!(ks.private("release-2026", b"nope").is_err());
        assert_eq!(ks.list().unwrap().len(), 1);
        ks.remove("release-2026").unwrap();
        assert!(matches!(
            ks.public("release-2026"),
            Err(ReleaseError::UnknownKeyName(_))
        ));
    }
}
