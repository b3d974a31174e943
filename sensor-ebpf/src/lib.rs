//! Empty library target: lets the agent's build script depend on this crate, so cargo rebuilds
//! the agent when the eBPF programs change. The programs are the `sensor` binary target.
#![no_std]
