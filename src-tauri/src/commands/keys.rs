//! The keys page: signing keys shared with the CLI (`assay key …`).

use assay_release::keystore::{KeyInfo, KeyStore};
use serde::Serialize;

use super::blocking;
use crate::error::UiError;

fn store() -> Result<KeyStore, UiError> {
    Ok(KeyStore::open(KeyStore::default_dir()?))
}

/// The key folder and its keys.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct KeysView {
    pub dir: String,
    pub keys: Vec<KeyInfo>,
}

#[tauri::command]
pub fn list_keys() -> Result<KeysView, UiError> {
    let ks = store()?;
    Ok(KeysView {
        dir: ks.dir().display().to_string(),
        keys: ks.list()?,
    })
}

/// `generate_key`: a new P-256 key, its private half encrypted with `passphrase`.
#[tauri::command]
pub async fn generate_key(name: String, passphrase: String) -> Result<KeyInfo, UiError> {
    if passphrase.len() < 8 {
        return Err(UiError::usage("use a passphrase of at least 8 characters"));
    }
    // Encrypting with scrypt takes a moment: off the UI thread.
    blocking(move || {
        Ok(store()?.add_private(
            &name,
            &assay_release::keys::PrivateKey::generate(),
            passphrase.as_bytes(),
        )?)
    })
    .await
}

/// `import_key`: a PEM file (public to trust, or private to sign with).
#[tauri::command]
pub async fn import_key(
    name: String,
    path: String,
    passphrase: Option<String>,
) -> Result<KeyInfo, UiError> {
    blocking(move || {
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| UiError::io(format!("cannot read {path}"), e))?;
        let pw = passphrase.filter(|p| !p.is_empty());
        Ok(store()?.import(&name, &pem, pw.as_deref().map(str::as_bytes))?)
    })
    .await
}

/// `export_public_key`: the SPKI PEM, to hand to a gateway's trusted keys.
#[tauri::command]
pub fn export_public_key(name: String) -> Result<String, UiError> {
    Ok(store()?.public(&name)?.pem().to_string())
}

#[tauri::command]
pub fn remove_key(name: String) -> Result<(), UiError> {
    store()?.remove(&name)?;
    Ok(())
}
