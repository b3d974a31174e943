//! Builds the eBPF programs (crate `sensor-ebpf`) with the nightly toolchain and bpf-linker, so
//! that `cargo build` yields one binary with the programs embedded. `cargo xtask setup` installs
//! what this needs.

fn main() -> anyhow::Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../sensor-ebpf");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "sensor-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
