//! Gateway tokens in a real OS keychain: gnome-keyring's Secret Service in a private D-Bus
//! session (Debian packages `dbus` and `gnome-keyring`, installed by scripts/setup.sh). The
//! test re-runs itself inside that session.

use std::process::Command;

use assay_console::gateway_book::GatewayBook;

const INNER: &str = "ASSAY_CONSOLE_INNER_KEYCHAIN_TEST";

#[test]
fn gateway_tokens_go_to_the_os_keychain_when_one_runs() {
    if std::env::var_os(INNER).is_some() {
        return inside_the_session();
    }
    let home = tempfile::tempdir().unwrap();
    let script = format!(
        "printf 'keyring-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1\n\
         exec '{}' --exact gateway_tokens_go_to_the_os_keychain_when_one_runs --nocapture --test-threads=1",
        std::env::current_exe().unwrap().display()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env(INNER, "1")
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("ASSAY_KEYCHAIN")
        .output()
        .expect("dbus-run-session (Debian package dbus) is installed by scripts/setup.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("token kept in the keychain"),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn inside_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let book = GatewayBook::open(dir.path().to_path_buf());
    let saved = book
        .add("kc", "http://127.0.0.1:9", "tok-5f2c9a", None)
        .unwrap();
    assert_eq!(saved.token_storage, "keychain");
    // Nothing on disk holds the token.
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        assert!(
            !text.contains("tok-5f2c9a"),
            "{} holds the token",
            e.path().display()
        );
    }
    assert!(!dir.path().join("kc.token").exists());
    let (url, token, _) = book.resolve("kc").unwrap();
    assert_eq!(
        (url.as_str(), token.as_str()),
        ("http://127.0.0.1:9", "tok-5f2c9a")
    );
    book.remove("kc").unwrap();
    assert!(book.resolve("kc").is_err());
    println!("token kept in the keychain, read back and removed");
}
