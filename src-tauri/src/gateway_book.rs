//! The gateways the console knows: name, URL and CA certificate in `gateways/NAME.json`,
//! the admin token in the OS keychain. Where no keychain answers (a headless box), the
//! token goes in `gateways/NAME.token` with mode 0600, like an SSH key, and the UI says so.

use assay_engine::ErrorKind;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use assay_release::{keychain::Keychain, remote::GatewayClient};
use serde::{Deserialize, Serialize};

use crate::error::UiError;

const TOKENS: Keychain = Keychain::new("assay-gateway-tokens");

/// A saved gateway, as the UI lists it (never with its token).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SavedGateway {
    pub name: String,
    pub url: String,
    pub ca_cert: Option<PathBuf>,
    /// `keychain` or `file`.
    pub token_storage: String,
}

/// The folder of saved gateways.
pub struct GatewayBook {
    dir: PathBuf,
}

fn check_name(name: &str) -> Result<(), UiError> {
    if assay_release::release::is_plain_name(name, 64) {
        Ok(())
    } else {
        Err(UiError::usage(format!(
            "'{name}' is not a usable gateway name: use 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), UiError> {
    use assay_engine::durable;
    durable::write(path, text.as_bytes(), durable::Mode::Private)
        .map_err(|e| UiError::io(format!("cannot write {}", path.display()), e))
}

impl GatewayBook {
    pub fn open(dir: PathBuf) -> GatewayBook {
        GatewayBook { dir }
    }

    fn entry(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn token_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.token"))
    }

    /// Saves (or replaces) a gateway and its token.
    pub fn add(
        &self,
        name: &str,
        url: &str,
        token: &str,
        ca_cert: Option<PathBuf>,
    ) -> Result<SavedGateway, UiError> {
        check_name(name)?;
        // Checks the URL's form and the CA file now rather than at the first push.
        GatewayClient::new(url, token, ca_cert.as_deref())?;
        if token.trim().is_empty() {
            return Err(UiError::usage("the admin token is empty"));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| UiError::io(format!("cannot create {}", self.dir.display()), e))?;
        let token_storage = if TOKENS.put(name, token.trim()) {
            let _ = std::fs::remove_file(self.token_file(name));
            "keychain"
        } else {
            write_private(&self.token_file(name), token.trim())?;
            "file"
        };
        let saved = SavedGateway {
            name: name.into(),
            url: url.trim_end_matches('/').into(),
            ca_cert,
            token_storage: token_storage.into(),
        };
        let json = serde_json::to_string_pretty(&saved).expect("plain data serializes");
        write_private(&self.entry(name), &json)?;
        Ok(saved)
    }

    pub fn list(&self) -> Result<Vec<SavedGateway>, UiError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut list: Vec<SavedGateway> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub fn get(&self, name: &str) -> Result<SavedGateway, UiError> {
        check_name(name)?;
        let path = self.entry(name);
        let bytes = std::fs::read(&path)
            .map_err(|_| UiError::usage(format!("no saved gateway named '{name}'")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| UiError::io(format!("{} is damaged", path.display()), e))
    }

    /// The gateway's URL, token and CA certificate.
    pub fn resolve(&self, name: &str) -> Result<(String, String, Option<PathBuf>), UiError> {
        let g = self.get(name)?;
        let token = match g.token_storage.as_str() {
            "keychain" => TOKENS.get(name).map_err(|e| UiError {
                kind: ErrorKind::Io,
                message: format!(
                    "the token of gateway '{name}' is not in the keychain any more; add the \
                     gateway again"
                ),
                detail: Some(e),
            })?,
            _ => std::fs::read_to_string(self.token_file(name))
                .map_err(|e| UiError::io(format!("cannot read the token of '{name}'"), e))?
                .trim()
                .to_string(),
        };
        Ok((g.url, token, g.ca_cert))
    }

    pub fn client(&self, name: &str) -> Result<GatewayClient, UiError> {
        let (url, token, ca) = self.resolve(name)?;
        Ok(GatewayClient::new(&url, &token, ca.as_deref())?)
    }

    pub fn remove(&self, name: &str) -> Result<(), UiError> {
        check_name(name)?;
        TOKENS.delete(name);
        let _ = std::fs::remove_file(self.token_file(name));
        std::fs::remove_file(self.entry(name))
            .map_err(|_| UiError::usage(format!("no saved gateway named '{name}'")))
    }
}

/// Clients of saved gateways, made once: each would otherwise read its token from the
/// keychain (a D-Bus round trip, perhaps an unlock prompt) on every two-second poll.
#[derive(Default)]
pub struct Clients(Mutex<HashMap<String, Arc<GatewayClient>>>);

impl Clients {
    pub fn get(&self, book: &GatewayBook, name: &str) -> Result<Arc<GatewayClient>, UiError> {
        if let Some(c) = self.0.lock().unwrap().get(name) {
            return Ok(c.clone());
        }
        let c = Arc::new(book.client(name)?);
        self.0.lock().unwrap().insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Drops a cached client (the gateway was changed or forgotten).
    pub fn forget(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }
}
