//! Releases in OCI registries, as ModelPack artifacts with the model_signing bundle attached
//! as an OCI 1.1 referrer:
//!
//! - [`reference`]: the `oci://` names of releases in registries;
//! - [`registry`]: TLS, Docker's credentials, and one error per thing a user can fix;
//! - [`layout`]: media types, the ModelPack config and the release manifest;
//! - [`referrers`]: attaching and finding signatures (the referrers API, else the tag schema);
//! - [`push`] and [`pull`]: moving a release, with every byte checked on the way in;
//! - `upload`: resumable blob uploads (an interrupted push continues inside its blob);
//! - [`resolve`]: a reference pinned to its digest, for a fleet rollout.
//!
//! The protocol itself is oci-client's, except the blob uploads, whose sessions oci-client
//! keeps private; this module decides what goes in it.

pub mod layout;
pub mod pull;
pub mod push;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod resolve;
mod upload;

pub use pull::{OciVerified, Opened, PullTo, open, verify};
pub use push::{OciPushed, push};
pub use reference::OciReference;
pub use registry::{RegistryOptions, list_tags};
pub use resolve::{Resolved, resolve};
