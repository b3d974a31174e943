//! Compiles `proto/` into Rust with protox (no system `protoc` needed) and tonic, and keeps
//! the encoded descriptors for gRPC server reflection.

use std::path::PathBuf;

use anyhow::Context;
use prost::Message;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let file = root.join("sensor/v1/sensor.proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile([&file], [&root])
        .with_context(|| format!("compiling {}", file.display()))?;
    let out = PathBuf::from(std::env::var("OUT_DIR").context("OUT_DIR")?);
    std::fs::write(
        out.join("sensor_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)
        .context("generating the gRPC code")?;
    Ok(())
}
