//! `/sensor.v1.Sensor/Subscribe` served with each alert encoded once.
//!
//! The generated server encodes every message it streams, so with N subscribers each alert
//! was deep-cloned and prost-encoded N times. [`SensorRouter`] sits in front of the generated
//! `SensorServer` under the same service name: it serves Subscribe itself, with a codec whose
//! encoder copies the alert's `SubscribeResponse` wire bytes (encoded once, by whichever
//! subscriber's stream gets to the alert first, see [`Queued::wire`]), and hands every other
//! method to the generated server. The wire format is unchanged.

use std::convert::Infallible;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use prost::bytes::BufMut;
use prost::Message as _;
use sensor_api::v1 as api;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, BoxFuture, Bytes, Context, Poll, Service, StdError};
use tonic::{Request, Response, Status};

use super::service::{SensorService, Streamed};
#[cfg(doc)]
use crate::sinks::hub::Queued;

const SUBSCRIBE: &str = "/sensor.v1.Sensor/Subscribe";

/// One `SubscribeResponse` on the wire.
pub enum Outgoing {
    /// Already encoded (an alert's shared bytes).
    Encoded(Bytes),
    /// Encoded on the spot (DropNotice, Goodbye).
    Message(Box<api::SubscribeResponse>),
}

/// Decodes `SubscribeRequest` with prost; encodes [`Outgoing`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SubscribeCodec;

#[derive(Clone, Copy, Debug, Default)]
pub struct SubscribeEncoder;

impl Codec for SubscribeCodec {
    type Encode = Outgoing;
    type Decode = api::SubscribeRequest;
    type Encoder = SubscribeEncoder;
    type Decoder = SubscribeDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        SubscribeEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        SubscribeDecoder(tonic_prost::ProstDecoder::default())
    }
}

impl Encoder for SubscribeEncoder {
    type Item = Outgoing;
    type Error = Status;

    fn encode(&mut self, item: Outgoing, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        if let Outgoing::Encoded(bytes) = &item {
            dst.reserve(bytes.len());
        }
        write(item, dst);
        Ok(())
    }
}

fn write(item: Outgoing, dst: &mut impl BufMut) {
    match item {
        Outgoing::Encoded(bytes) => dst.put_slice(&bytes),
        Outgoing::Message(message) => message
            .encode(dst)
            .expect("an EncodeBuf grows: encoding cannot run out of space"),
    }
}

pub struct SubscribeDecoder(tonic_prost::ProstDecoder<api::SubscribeRequest>);

impl Decoder for SubscribeDecoder {
    type Item = api::SubscribeRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        self.0.decode(src)
    }
}

type OutgoingStream = Pin<Box<dyn Stream<Item = Result<Outgoing, Status>> + Send>>;

struct SubscribeSvc(SensorService);

impl tonic::server::ServerStreamingService<api::SubscribeRequest> for SubscribeSvc {
    type Response = Outgoing;
    type ResponseStream = OutgoingStream;
    type Future = BoxFuture<Response<OutgoingStream>, Status>;

    fn call(&mut self, request: Request<api::SubscribeRequest>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            let stream = service.open_subscription(request)?.map(|item| {
                Ok(match item {
                    Streamed::Alert(queued) => Outgoing::Encoded(queued.wire().clone()),
                    Streamed::Message(message) => Outgoing::Message(message),
                })
            });
            Ok(Response::new(Box::pin(stream) as OutgoingStream))
        })
    }
}

/// `sensor.v1.Sensor`: Subscribe served here, every other method by the generated server.
#[derive(Clone)]
pub struct SensorRouter {
    service: SensorService,
    inner: api::sensor_server::SensorServer<SensorService>,
}

impl SensorRouter {
    pub fn new(service: SensorService) -> Self {
        let max_request = service.limits.max_request_bytes;
        Self {
            inner: api::sensor_server::SensorServer::new(service.clone())
                .max_decoding_message_size(max_request),
            service,
        }
    }
}

impl tonic::server::NamedService for SensorRouter {
    const NAME: &'static str = api::sensor_server::SERVICE_NAME;
}

impl<B> Service<http::Request<B>> for SensorRouter
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != SUBSCRIBE {
            return self.inner.call(req);
        }
        let method = SubscribeSvc(self.service.clone());
        let max_request = self.service.limits.max_request_bytes;
        Box::pin(async move {
            // As the generated server: no compression, the same request size limit.
            let mut grpc = tonic::server::Grpc::new(SubscribeCodec)
                .apply_max_message_size_config(Some(max_request), None);
            Ok(grpc.server_streaming(method, req).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_and_on_the_spot_messages_are_plain_prost() {
        let goodbye = api::SubscribeResponse {
            message: Some(api::subscribe_response::Message::Goodbye(api::Goodbye {
                reason: "bye".into(),
                alerts_sent: 3,
                alerts_dropped: 1,
            })),
        };
        let bytes = Bytes::from(goodbye.encode_to_vec());
        for item in [
            Outgoing::Encoded(bytes.clone()),
            Outgoing::Message(Box::new(goodbye.clone())),
        ] {
            let mut buf = Vec::new();
            write(item, &mut buf);
            assert_eq!(&buf[..], &bytes[..]);
        }
    }
}
