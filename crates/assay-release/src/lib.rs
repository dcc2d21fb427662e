//! # assay-release
//!
//! Signed releases, shared by the console, the CLI and the gateway:
//!
//! - [`keys`]: ECDSA P-256 keys, PEM in every form openssl and model_signing write, and the
//!   public-key hint; [`keychain`]: the OS keychain; [`keystore`]: named keys on disk, private keys always encrypted;
//! - [`release`]: release folders (model, external data, side files, `assay-release.json`);
//!   [`metadata`]: `assay-release.json` itself, typed from `release create` to the gateway;
//! - [`signing`]: signatures in the OpenSSF model_signing key-based format (an in-toto
//!   statement in a DSSE envelope in a Sigstore bundle v0.3), verified in model_signing's
//!   order, with one error variant per way a release can be wrong ([`ReleaseError`]);
//! - [`manifest`]: streamed, parallel hashing of a folder, with a digest cache for re-signs;
//! - [`oci`]: releases in OCI registries (ModelPack artifacts, the signature as a referrer),
//!   pushed and verified in place with every layer streamed;
//! - [`fleet`]: staged rollouts across many gateways (waves, canaries, rollback of every
//!   changed gateway), saved step by step so an interrupted rollout resumes;
//! - [`remote`]: the gateway's release API, its wire types and a client that pushes with
//!   resume.
//!
//! ```no_run
//! use assay_release::{keys::PrivateKey, signing::{self, Trust}};
//! let key = PrivateKey::generate();
//! signing::sign("release/".as_ref(), &key, "release.sig".as_ref(), None, None)?;
//! let ok = signing::verify("release/".as_ref(), "release.sig".as_ref(), &Trust::Key(key.public()), None)?;
//! println!("{} files verified with key {}", ok.files, ok.key_hint);
//! # Ok::<(), assay_release::ReleaseError>(())
//! ```

mod bundle;
pub mod cache;
mod error;
pub mod fleet;
pub mod keychain;
pub mod keys;
pub mod keystore;
pub mod manifest;
pub mod metadata;
pub mod oci;
pub mod release;
pub mod remote;
pub mod signing;
pub mod views;

pub use bundle::SignedStatement;
pub use error::{ReleaseError, Result};
