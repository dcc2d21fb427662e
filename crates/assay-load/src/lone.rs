//! A lone worker's connection: at concurrency 1 over plain REST or gRPC, the closed loop
//! runs on a thread of its own with a blocking socket (`http1`, `h2c`), which costs the
//! client the least; everything else keeps the async paths (`wire`).

use std::time::Duration;

use bytes::Bytes;

use crate::{
    h2c::BlockingGrpc,
    http1::Blocking,
    request::Encoded,
    target::Target,
    wire::{Failure, Prepared},
};

/// What a lone worker sends on, the same request every time.
pub(crate) enum Lone {
    Rest(Blocking),
    Grpc(BlockingGrpc),
}

/// What to connect with, made on the runtime (cheap) before the blocking connect.
pub(crate) enum LoneRequest {
    Rest(Bytes),
    Grpc(Bytes, Vec<u8>),
}

impl LoneRequest {
    /// The request a lone worker sends to `target`; `None` where the async path serves (TLS,
    /// which the blocking sockets do not speak).
    pub(crate) fn new(target: &Target, prepared: &Prepared, encoded: &Encoded) -> Option<Self> {
        if target.tls {
            return None;
        }
        Some(match encoded {
            Encoded::Rest { .. } => LoneRequest::Rest(prepared.http1_request(encoded)?),
            Encoded::Grpc(message) => {
                LoneRequest::Grpc(message.clone(), crate::h2c::header_block(prepared))
            }
        })
    }
}

impl Lone {
    /// Connects (blocking) for `request`.
    pub(crate) fn connect(
        target: &Target,
        request: LoneRequest,
        timeout: Duration,
    ) -> Result<Lone, Failure> {
        Ok(match request {
            LoneRequest::Rest(wire) => Lone::Rest(Blocking::connect(target, wire, timeout)?),
            LoneRequest::Grpc(message, block) => {
                Lone::Grpc(BlockingGrpc::connect(target, block, message, timeout)?)
            }
        })
    }

    /// Sends the request and checks the whole answer.
    pub(crate) fn send(&mut self) -> Result<(), Failure> {
        match self {
            Lone::Rest(c) => c.send(),
            Lone::Grpc(c) => c.send(),
        }
    }

    /// A new connection in place of a broken one.
    pub(crate) fn reconnect(&mut self) -> Result<(), Failure> {
        match self {
            Lone::Rest(c) => c.reconnect(),
            Lone::Grpc(c) => c.reconnect(),
        }
    }
}
