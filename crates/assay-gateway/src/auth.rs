//! Bearer tokens and per-caller rate limits.
//!
//! Tokens are kept as SHA-256 digests and a presented token is hashed and compared with
//! every digest in constant time (`subtle`), so neither the comparison nor the number of
//! tokens checked leaks how much of a guess was right. A token's identity in logs and the
//! audit trail is a short prefix of its digest, never the token.

use std::{net::IpAddr, num::NonZeroU32};

use axum::http::{HeaderMap, header};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::GatewayError;

/// Who may do what, and how fast.
pub struct Auth {
    admin: Vec<[u8; 32]>,
    inference: Option<Vec<[u8; 32]>>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The short, loggable identity of a token.
pub fn token_id(token: &str) -> String {
    hex::encode(&digest(token)[..4])
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn matches(set: &[[u8; 32]], token: &str) -> bool {
    let d = digest(token);
    // Fold over every entry without short-circuiting.
    set.iter()
        .fold(subtle::Choice::from(0), |acc, k| acc | k.ct_eq(&d))
        .into()
}

impl Auth {
    pub fn new(
        admin: &[String],
        inference: Option<&[String]>,
        rate_limit: Option<(u32, u32)>,
    ) -> Auth {
        Auth {
            admin: admin.iter().map(|t| digest(t)).collect(),
            inference: inference.map(|ts| ts.iter().map(|t| digest(t)).collect()),
            limiter: rate_limit.map(|(per_s, burst)| {
                let per_s = NonZeroU32::new(per_s).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(burst).unwrap_or(per_s);
                RateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst))
            }),
        }
    }

    /// Checks an admin route's bearer token; returns the caller's identity for the audit log.
    pub fn admin(&self, headers: &HeaderMap) -> Result<String, GatewayError> {
        match bearer(headers) {
            None => Err(GatewayError::Unauthorized(
                "this route needs an admin token: send `Authorization: Bearer <token>`".into(),
            )),
            Some(t) if matches(&self.admin, t) => Ok(format!("token:{}", token_id(t))),
            Some(_) => Err(GatewayError::Unauthorized(
                "the admin token is not valid".into(),
            )),
        }
    }

    /// Checks the token of a model route (inference, metadata, config, readiness) when
    /// `inference_token_file` is set; returns the validated token's identity.
    pub fn serving(&self, headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
        let Some(allowed) = &self.inference else {
            return Ok(None);
        };
        match bearer(headers) {
            Some(t) if matches(allowed, t) || matches(&self.admin, t) => Ok(Some(token_id(t))),
            Some(_) => Err(GatewayError::Unauthorized(
                "the inference token is not valid".into(),
            )),
            None => Err(GatewayError::Unauthorized(
                "this route needs a token: send `Authorization: Bearer <token>`".into(),
            )),
        }
    }

    /// Checks an inference request: its token, then its caller's rate. The caller is the
    /// validated token, or else the client address (an unchecked bearer string would let a
    /// client pick a fresh budget per request).
    pub fn inference(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), GatewayError> {
        let who = self.serving(headers)?;
        if let Some(limiter) = &self.limiter {
            let key = match (who, peer) {
                (Some(t), _) => format!("token:{t}"),
                (None, Some(ip)) => format!("ip:{ip}"),
                (None, None) => "anonymous".into(),
            };
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                return Err(GatewayError::Overloaded {
                    message: format!("rate limit exceeded for {key}"),
                    retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
        }
        Ok(())
    }

    /// Forgets callers whose budget is full again, so the table does not grow forever.
    pub fn housekeeping(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn admin_tokens() {
        let a = Auth::new(
            &["0123456789abcdef-one".into(), "0123456789abcdef-two".into()],
            None,
            None,
        );
        assert!(a.admin(&with(Some("Bearer 0123456789abcdef-two"))).is_ok());
        assert!(a.admin(&with(Some("bearer 0123456789abcdef-one"))).is_ok());
        assert!(a.admin(&with(Some("Bearer 0123456789abcdef-thr"))).is_err());
        assert!(a.admin(&with(Some("Basic 0123456789abcdef-one"))).is_err());
        assert!(a.admin(&with(None)).is_err());
    }

    #[test]
    fn rate_limit_per_caller() {
        let a = Auth::new(&["0123456789abcdef-one".into()], None, Some((1, 2)));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(a.inference(&with(None), Some(ip)).is_ok());
        assert!(a.inference(&with(None), Some(ip)).is_ok());
        let e = a.inference(&with(None), Some(ip)).unwrap_err();
        assert!(
            matches!(
                e,
                GatewayError::Overloaded {
                    retry_after_s: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        // Without inference tokens, a made-up bearer string buys no fresh budget.
        assert!(a.inference(&with(Some("Bearer x")), Some(ip)).is_err());
        // Another address has its own.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(a.inference(&with(None), Some(other)).is_ok());
        a.housekeeping();
    }

    #[test]
    fn inference_tokens_gate_model_routes_and_key_the_budget() {
        let a = Auth::new(
            &["0123456789abcdef-one".into()],
            Some(&["reader-token".into()]),
            Some((1, 1)),
        );
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(a.serving(&with(None)).is_err());
        assert!(a.serving(&with(Some("Bearer nope"))).is_err());
        assert!(
            a.serving(&with(Some("Bearer reader-token")))
                .unwrap()
                .is_some()
        );
        assert!(
            a.inference(&with(Some("Bearer reader-token")), Some(ip))
                .is_ok()
        );
        assert!(
            a.inference(&with(Some("Bearer reader-token")), Some(ip))
                .is_err()
        );
        // The admin token is another caller, with its own budget.
        assert!(
            a.inference(&with(Some("Bearer 0123456789abcdef-one")), Some(ip))
                .is_ok()
        );
    }
}
