//! `assay key generate|list|export-public|import|rm`

use std::io::IsTerminal;

use assay_release::{
    keys::PrivateKey,
    keystore::{self, KeyStore},
};
use serde_json::json;

use crate::{
    cli::{KeyCommand, PassphraseArgs},
    exit::UsageError,
    format,
};

pub fn store() -> anyhow::Result<KeyStore> {
    Ok(KeyStore::open(KeyStore::default_dir()?))
}

/// The passphrase, from --passphrase-file, ASSAY_KEY_PASSPHRASE, or a prompt on a terminal.
/// It is never logged or echoed.
pub fn passphrase(args: &PassphraseArgs, prompt: &str, confirm: bool) -> anyhow::Result<Vec<u8>> {
    if let Some(f) = &args.passphrase_file {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        return Ok(text.lines().next().unwrap_or("").as_bytes().to_vec());
    }
    if let Ok(p) = std::env::var("ASSAY_KEY_PASSPHRASE") {
        return Ok(p.into_bytes());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "a key passphrase is needed: pass --passphrase-file FILE or set ASSAY_KEY_PASSPHRASE"
                .into(),
        )
        .into());
    }
    let first = rpassword::prompt_password(prompt)?;
    if confirm && rpassword::prompt_password("repeat the passphrase: ")? != first {
        return Err(UsageError("the passphrases do not match".into()).into());
    }
    Ok(first.into_bytes())
}

pub fn run(cmd: &KeyCommand) -> anyhow::Result<()> {
    let ks = store()?;
    match cmd {
        KeyCommand::Generate { name, pass, json } => {
            let pw = passphrase(
                pass,
                &format!("passphrase for the new key '{name}': "),
                true,
            )?;
            let info = ks.add_private(name, &PrivateKey::generate(), &pw)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!(
                    "generated key '{}' (P-256), fingerprint {}",
                    info.name, info.hint
                );
                println!("public key: {}", info.public_path.display());
            }
        }
        KeyCommand::List { json } => {
            let keys = ks.list()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"dir": ks.dir(), "keys": keys}))?
                );
            } else if keys.is_empty() {
                println!(
                    "no keys in {} (make one with `assay key generate NAME`)",
                    ks.dir().display()
                );
            } else {
                for k in keys {
                    println!(
                        "{:<24} {}  {}",
                        k.name,
                        k.hint,
                        if k.has_private {
                            "private+public"
                        } else {
                            "public only"
                        }
                    );
                }
            }
        }
        KeyCommand::ExportPublic { name, out, json } => {
            let k = ks.public(name)?;
            match out {
                Some(path) => {
                    format::write_atomic(path, k.pem().as_bytes())?;
                    if *json {
                        println!("{}", json!({"name": name, "hint": k.hint(), "path": path}));
                    } else {
                        println!(
                            "public key of '{name}' ({}) written to {}",
                            k.hint(),
                            path.display()
                        );
                    }
                }
                None if *json => println!(
                    "{}",
                    json!({"name": name, "hint": k.hint(), "pem": k.pem()})
                ),
                None => print!("{}", k.pem()),
            }
        }
        KeyCommand::Import {
            name,
            file,
            pass,
            json,
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let pw = if keystore::is_public_pem(&text) {
                None
            } else {
                Some(passphrase(
                    pass,
                    &format!("passphrase to protect '{name}': "),
                    false,
                )?)
            };
            let info = ks.import(name, &text, pw.as_deref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!(
                    "imported '{}' ({}), fingerprint {}",
                    info.name,
                    if info.has_private {
                        "private+public"
                    } else {
                        "public only"
                    },
                    info.hint
                );
            }
        }
        KeyCommand::Rm { name, json } => {
            let info = ks.remove(name)?;
            if *json {
                println!("{}", json!({"removed": info.name, "hint": info.hint}));
            } else {
                println!("removed key '{}' ({})", info.name, info.hint);
            }
        }
    }
    Ok(())
}
