//! The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows), when one answers. Callers keep a fallback: a headless machine or a CI runner
//! usually has none, and `ASSAY_KEYCHAIN=off` turns it off on purpose.

/// Secrets of one kind, under one keychain service name.
#[derive(Debug, Clone, Copy)]
pub struct Keychain {
    service: &'static str,
}

impl Keychain {
    pub const fn new(service: &'static str) -> Keychain {
        Keychain { service }
    }

    fn enabled() -> bool {
        std::env::var("ASSAY_KEYCHAIN")
            .map(|v| v != "off" && v != "0")
            .unwrap_or(true)
    }

    /// Stores `secret`; false when there is no usable keychain (then use the fallback).
    pub fn put(&self, name: &str, secret: &str) -> bool {
        Self::enabled()
            && keyring::Entry::new(self.service, name)
                .and_then(|e| e.set_password(secret))
                .is_ok()
    }

    pub fn get(&self, name: &str) -> Result<String, String> {
        keyring::Entry::new(self.service, name)
            .and_then(|e| e.get_password())
            .map_err(|e| e.to_string())
    }

    /// Removes the entry; a missing entry or keychain is not an error.
    pub fn delete(&self, name: &str) {
        if let Ok(e) = keyring::Entry::new(self.service, name) {
            let _ = e.delete_credential();
        }
    }
}
