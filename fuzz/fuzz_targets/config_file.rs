#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_fuzz::targets::config_file(data));
