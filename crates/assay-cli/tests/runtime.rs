//! ONNX Runtime discovery and provisioning: `assay runtime install|list`, run as a process
//! against private data directories, a local PEP 503 index on 127.0.0.1, and libraries that
//! are not the right ONNX Runtime.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::{Path, PathBuf},
};

use common::*;
use sha2::{Digest, Sha256};

/// `assay` with discovery isolated to `data` (no env overrides).
fn isolated(data: &Path) -> assert_cmd::Command {
    let mut c = assay();
    c.env("XDG_DATA_HOME", data)
        .env_remove("ASSAY_ORT_DYLIB")
        .env_remove("ORT_DYLIB_PATH");
    c
}

/// A minimal static file server on 127.0.0.1 for the duration of the test.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .split('#')
                    .next()
                    .unwrap()
                    .to_string();
                let mut file = root.join(path.trim_start_matches('/'));
                if file.is_dir() {
                    file = file.join("index.html");
                }
                let mut s = stream;
                match std::fs::read(&file) {
                    Ok(body) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(&body);
                    }
                    Err(_) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            });
        }
    });
    format!("http://{addr}/simple")
}

/// A PEP 503 tree holding `wheel`, linked with `sha` in the fragment.
fn index_with(wheel: &Path, sha: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let name = wheel.file_name().unwrap().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("simple/onnxruntime")).unwrap();
    std::fs::create_dir_all(dir.path().join("packages")).unwrap();
    std::fs::copy(wheel, dir.path().join("packages").join(name)).unwrap();
    let html = format!(
        "<!DOCTYPE html><html><body>\n<a href=\"../../packages/{name}#sha256={sha}\">{name}</a>\n</body></html>\n"
    );
    std::fs::write(dir.path().join("simple/onnxruntime/index.html"), html).unwrap();
    let url = serve(dir.path().to_path_buf());
    (dir, url)
}

fn sha256(p: &Path) -> String {
    let mut h = Sha256::new();
    h.update(std::fs::read(p).unwrap());
    format!("{:x}", h.finalize())
}

#[test]
fn no_runtime_is_one_line_and_exit_3() {
    let data = tempfile::tempdir().unwrap();
    let o = expect_error(
        isolated(data.path()).arg("bench").arg(sample_model()),
        3,
        "run `assay runtime install`",
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    expect_error(
        isolated(data.path()).args(["runtime", "list"]),
        3,
        "no ONNX Runtime found",
    );
}

#[test]
fn env_overrides_win_and_bad_paths_are_named() {
    let data = tempfile::tempdir().unwrap();
    expect_error(
        isolated(data.path())
            .env("ASSAY_ORT_DYLIB", "/nowhere/libonnxruntime.so")
            .arg("bench")
            .arg(sample_model()),
        1,
        "/nowhere/libonnxruntime.so: no such file",
    );
    expect_error(
        isolated(data.path())
            .env("ORT_DYLIB_PATH", "/nowhere/ort.so")
            .args(["runtime", "list"]),
        1,
        "/nowhere/ort.so",
    );
    let not_a_lib = data.path().join("libonnxruntime.so");
    std::fs::write(&not_a_lib, b"not an ELF file").unwrap();
    expect_error(
        isolated(data.path())
            .arg("--runtime")
            .arg(&not_a_lib)
            .args(["runtime", "list"]),
        1,
        "not a loadable shared library",
    );
}

#[test]
fn a_library_of_the_wrong_version_is_refused() {
    // A stand-in library that answers OrtGetApiBase like ONNX Runtime 1.20.0 would.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("fake.c");
    std::fs::write(
        &src,
        r#"
        typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } OrtApiBase;
        static const void* get_api(unsigned v) { (void)v; return 0; }
        static const char* version(void) { return "1.20.0"; }
        static const OrtApiBase base = { get_api, version };
        const OrtApiBase* OrtGetApiBase(void) { return &base; }
        "#,
    )
    .unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.20.0");
    let cc = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("a C compiler (build-essential)");
    assert!(cc.success());
    expect_error(
        assay()
            .arg("--runtime")
            .arg(&lib)
            .arg("bench")
            .arg(sample_model()),
        1,
        "ONNX Runtime 1.20.0 is not supported; Assay needs 1.31.x",
    );
}

#[test]
fn installs_from_a_local_simple_index_and_is_idempotent() {
    let wheel = ort_wheel();
    let (_index, url) = index_with(&wheel, &sha256(&wheel));
    let data = tempfile::tempdir().unwrap();
    let o = run(isolated(data.path()).args(["runtime", "install", "--json", "--index-url", &url]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rec = json(&o.stdout);
    assert_eq!(rec["version"], "1.31.1");
    assert_eq!(rec["wheels"][0]["source"], "index");
    assert_eq!(rec["wheels"][0]["sha256"], sha256(&wheel));
    let lib = PathBuf::from(rec["library"].as_str().unwrap());
    assert!(
        lib.starts_with(data.path().join("assay/runtime/1.31.1-cpu/capi")),
        "{lib:?}"
    );
    assert!(
        lib.parent()
            .unwrap()
            .join("libonnxruntime_providers_shared.so")
            .exists(),
        "capi/ is kept together"
    );

    // Again: nothing to do.
    let o = run(isolated(data.path()).args(["runtime", "install", "--json", "--index-url", &url]));
    assert_eq!(json(&o.stdout)["already_installed"], true);

    // And it is found, loaded and used.
    let o = run(isolated(data.path()).args(["runtime", "list", "--json"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let l = json(&o.stdout);
    assert_eq!(l["active"]["version"], "1.31.1");
    assert_eq!(l["active"]["source"], "installed");
    assert!(
        l["active"]["providers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "CPUExecutionProvider")
    );
}

#[test]
fn an_index_hash_mismatch_installs_nothing() {
    let wheel = ort_wheel();
    let (_index, url) = index_with(&wheel, &"0".repeat(64));
    let data = tempfile::tempdir().unwrap();
    expect_error(
        isolated(data.path()).args(["runtime", "install", "--index-url", &url]),
        1,
        "sha256 mismatch",
    );
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("assay/runtime"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "nothing may remain: {leftovers:?}");
}

#[test]
fn from_wheel_checks_the_record_and_the_pin() {
    let wheel = ort_wheel();
    let data = tempfile::tempdir().unwrap();
    expect_error(
        isolated(data.path())
            .args([
                "runtime",
                "install",
                "--sha256",
                &"a".repeat(64),
                "--from-wheel",
            ])
            .arg(&wheel),
        1,
        &format!("but {} was required", "a".repeat(64)),
    );
    let o = run(isolated(data.path())
        .args([
            "runtime",
            "install",
            "--json",
            "--sha256",
            &sha256(&wheel),
            "--from-wheel",
        ])
        .arg(&wheel));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["wheels"][0]["source"], "file");

    // A wheel whose library does not match its RECORD is refused.
    let dir = tempfile::tempdir().unwrap();
    let forged = dir
        .path()
        .join("onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&forged).unwrap());
    let opts: zip::write::SimpleFileOptions = Default::default();
    zip.start_file("onnxruntime/capi/libonnxruntime.so.1.31.1", opts)
        .unwrap();
    zip.write_all(b"tampered bytes").unwrap();
    zip.start_file("onnxruntime-1.31.1.dist-info/RECORD", opts)
        .unwrap();
    zip.write_all(b"onnxruntime/capi/libonnxruntime.so.1.31.1,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,14\n").unwrap();
    zip.finish().unwrap();
    let data = tempfile::tempdir().unwrap();
    expect_error(
        isolated(data.path())
            .args(["runtime", "install", "--from-wheel"])
            .arg(&forged),
        1,
        "does not match the hash in the wheel's RECORD",
    );
    expect_error(
        isolated(data.path()).args(["runtime", "install", "--from-wheel", "/tmp/x.tar.gz"]),
        2,
        "not a wheel file name",
    );
}
