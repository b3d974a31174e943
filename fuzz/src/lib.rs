//! The bodies of the fuzz targets, one public function per target in [`targets`]:
//! `fuzz_targets/<name>.rs` only hands libFuzzer's input to it. Each calls the library
//! function that parses that kind of outside input, then checks what can be checked of the
//! result (JSON that parses back, a profile that stays one profile); a panic is a crash.
//!
//! See README.md, "Fuzzing", for running them.

pub mod apparmor_text;
pub mod inputs;
pub mod targets;
