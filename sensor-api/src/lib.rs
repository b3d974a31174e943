//! The sensor's gRPC API, generated from `proto/sensor/v1/sensor.proto`: messages, the
//! `Sensor` service's server trait and its client.

pub mod v1 {
    // Generated: `SubscribeResponse`'s oneof holds a large `Alert` beside small notices, as
    // the .proto says; boxing it would change the public types for no gain on the wire.
    #![allow(clippy::large_enum_variant)]
    tonic::include_proto!("sensor.v1");

    /// The encoded `FileDescriptorSet` of the API (with its imports), for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/sensor_v1_descriptor.bin"));

    /// The service's full name, as the health service and reflection know it.
    pub const SERVICE_NAME: &str = "sensor.v1.Sensor";
}
