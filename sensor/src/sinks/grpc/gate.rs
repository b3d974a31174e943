//! The tower layer in front of every gRPC service the sensor serves: each call is authorized
//! here ([`Access::authorize`]: PERMISSION_DENIED without the role the method needs) before
//! any service sees it, and the authorized [`Caller`] travels to the method in the request's
//! extensions ([`caller`]).
//!
//! It also words the refusal of an oversized request. Each service decodes at most
//! `grpc.limits.max_request_bytes` per message; tonic refuses a larger one with OUT_OF_RANGE
//! and a message that names neither the setting nor what to do. The sensor's handlers never
//! answer OUT_OF_RANGE themselves, so here it becomes RESOURCE_EXHAUSTED (what gRPC's own
//! implementations answer for a message over the limit) naming the limit and its key.

use std::sync::Arc;

use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Context, Poll, Service};
use tonic::{Code, Request, Status};

use super::access::{Access, Caller};

#[derive(Clone)]
pub struct GateLayer {
    access: Arc<Access>,
    max_request_bytes: usize,
}

impl GateLayer {
    pub fn new(access: Arc<Access>, max_request_bytes: usize) -> Self {
        Self {
            access,
            max_request_bytes,
        }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    layer: GateLayer,
}

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        match self.layer.access.authorize(&path, request.extensions()) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
            }
            Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
        }
        // The service that was polled ready takes this call; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.layer.max_request_bytes;
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(word_oversized(response, limit))
        })
    }
}

/// An OUT_OF_RANGE answer (tonic's refusal of a message over the decoding limit) as
/// RESOURCE_EXHAUSTED naming the limit. Only a trailers-only answer (the status in the
/// headers, as for a refused request) can be one.
fn word_oversized(response: http::Response<Body>, limit: usize) -> http::Response<Body> {
    match Status::from_header_map(response.headers()) {
        Some(status) if status.code() == Code::OutOfRange => Status::resource_exhausted(format!(
            "the request is larger than the sensor accepts: the limit is {limit} bytes \
             (grpc.limits.max_request_bytes) [{}]",
            status.message()
        ))
        .into_http(),
        _ => response,
    }
}

/// The caller the gate authorized. Fails closed: a service reached without the gate in
/// front (a wiring mistake) refuses rather than treating the caller as anyone in particular.
pub fn caller<T>(request: &Request<T>) -> Result<&Caller, Status> {
    request.extensions().get::<Caller>().ok_or_else(|| {
        Status::permission_denied(
            "the call was not authorized (the sensor's access gate is missing)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_becomes_resource_exhausted_naming_the_limit() {
        let refused = Status::out_of_range(
            "Error, decoded message length too large: found 70000 bytes, the limit is: 65536 bytes",
        )
        .into_http::<Body>();
        let worded = word_oversized(refused, 65536);
        let status = Status::from_header_map(worded.headers()).expect("a status");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(
            status.message().starts_with(
                "the request is larger than the sensor accepts: the limit is 65536 bytes (grpc.limits.max_request_bytes) [Error, decoded message length too large: found 70000"
            ),
            "{}",
            status.message()
        );
        let other = Status::not_found("x").into_http::<Body>();
        let kept = word_oversized(other, 1);
        assert_eq!(
            Status::from_header_map(kept.headers()).map(|s| s.code()),
            Some(Code::NotFound)
        );
    }
}
