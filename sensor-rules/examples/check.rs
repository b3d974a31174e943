//! `sensor rules check PATH...` in miniature: prints the check report of rules files or
//! directories loaded in order. `cargo run -p sensor-rules --example check -- rules.yaml`

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    print!("{}", sensor_rules::check(&paths));
}
