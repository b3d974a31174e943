//! Falco's address and network fields (`ipaddr`: `fd.ip`, `fd.sip`, ...; `ipnet`: `fd.net`,
//! `fd.snet`, ...) registered by the sensor as added fields: Falco's network macros compile
//! and match as in Falco, constants are checked when rules load, and addresses print as
//! Falco prints them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sensor_rules::fields::{ArgSpec, Shape, SENSOR_EVENT_TYPES};
use sensor_rules::{
    check_sources, CheckReport, CompileOptions, Compiled, FieldRegistry, FieldType, MapEvent,
    MatchMode, RuleSource, RuleStatus, RulesetBuilder,
};

/// The default registry plus the `fd.*` fields a network-capturing sensor adds, with
/// Falco's types.
fn network_registry() -> Arc<FieldRegistry> {
    let mut registry = FieldRegistry::sensor_default();
    let added = [
        ("fd.ip", FieldType::Ip),
        ("fd.sip", FieldType::Ip),
        ("fd.cip", FieldType::Ip),
        ("fd.lip", FieldType::Ip),
        ("fd.rip", FieldType::Ip),
        ("fd.net", FieldType::IpNet),
        ("fd.snet", FieldType::IpNet),
        ("fd.cnet", FieldType::IpNet),
        ("fd.lnet", FieldType::IpNet),
        ("fd.rnet", FieldType::IpNet),
        ("fd.name", FieldType::String),
        ("fd.l4proto", FieldType::String),
        ("fd.typechar", FieldType::String),
        ("fd.type", FieldType::String),
        ("fd.connected", FieldType::Bool),
        ("fd.name_changed", FieldType::Bool),
    ];
    for (name, field_type) in added {
        registry.add_field(
            name,
            field_type,
            ArgSpec::NoArg,
            Shape::Scalar,
            "test field",
        );
    }
    Arc::new(registry)
}

fn captured() -> Vec<String> {
    SENSOR_EVENT_TYPES
        .iter()
        .copied()
        .chain([
            "connect", "sendto", "sendmsg", "accept", "accept4", "listen",
        ])
        .map(String::from)
        .collect()
}

fn build(yaml: &str) -> Compiled {
    RulesetBuilder::new()
        .registry(network_registry())
        .captured_event_types(captured())
        .source(RuleSource::new("net.yaml", yaml))
        .build()
}

fn rule(condition: &str, output: &str) -> String {
    format!(
        "- rule: under test\n  desc: d\n  condition: '{}'\n  output: '{}'\n  priority: INFO\n",
        condition.replace('\'', "''"),
        output.replace('\'', "''")
    )
}

/// Compiles one rule (which must compile) and tells whether `event` matches it.
fn matches(condition: &str, event: &MapEvent) -> bool {
    let compiled = build(&rule(condition, "out"));
    assert!(
        !compiled.report.has_errors(),
        "`{condition}`:\n{}",
        compiled.report
    );
    assert!(
        matches!(compiled.report.rules[0].status, RuleStatus::Compiled { .. }),
        "`{condition}`: {:?}",
        compiled.report.rules[0].status
    );
    let matched = !compiled.ruleset.evaluate(event, MatchMode::All).is_empty();
    matched
}

/// The first error of compiling `condition`.
fn error(condition: &str) -> String {
    let compiled = build(&rule(condition, "out"));
    let message = compiled
        .report
        .errors()
        .next()
        .unwrap_or_else(|| panic!("`{condition}` compiled without error"))
        .message
        .clone();
    message
}

fn event(evt_type: &str) -> MapEvent {
    MapEvent::with_registry(evt_type, network_registry())
}

/// A connect to `server` from 192.168.1.10, as the sensor would describe it.
fn connect(server: &str) -> MapEvent {
    event("connect")
        .with("evt.rawres", 0i64)
        .with("proc.name", "curl")
        .with("fd.ip", server)
        .with("fd.sip", server)
        .with("fd.rip", server)
        .with("fd.net", server)
        .with("fd.snet", server)
        .with("fd.rnet", server)
        .with("fd.cip", "192.168.1.10")
        .with("fd.lip", "192.168.1.10")
        .with("fd.cnet", "192.168.1.10")
        .with("fd.lnet", "192.168.1.10")
        .with("fd.l4proto", "tcp")
        .with("fd.typechar", "4")
        .with("fd.connected", true)
        .with("fd.name_changed", false)
}

const OUTBOUND: &str = "\
- list: rfc_1918_addresses
  items: ['\"10.0.0.0/8\"', '\"172.16.0.0/12\"', '\"192.168.0.0/16\"']

- macro: outbound
  condition: >
    (((evt.type = connect and evt.dir=<) or
      (evt.type in (sendto,sendmsg) and evt.dir=< and
       fd.l4proto != tcp and fd.connected=false and fd.name_changed=true)) and
     (fd.typechar = 4 or fd.typechar = 6) and
     (fd.ip != \"0.0.0.0\" and fd.net != \"127.0.0.0/8\" and not fd.snet in (rfc_1918_addresses)) and
     (evt.rawres >= 0 or evt.res = EINPROGRESS))

- rule: Outbound connection
  desc: a connection leaving the private networks
  condition: outbound
  output: 'outbound (server=%fd.sip client=%fd.cip net=%fd.snet proc=%proc.name)'
  priority: NOTICE
";

#[test]
fn falco_outbound_macro_compiles_and_matches() {
    let compiled = build(OUTBOUND);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled
        .ruleset
        .rule("Outbound connection")
        .expect("compiled");
    assert_eq!(rule.event_types(), ["connect", "sendmsg", "sendto"]);
    let fires = |event: &MapEvent| !compiled.ruleset.evaluate(event, MatchMode::All).is_empty();

    assert!(fires(&connect("8.8.8.8")));
    assert!(fires(&connect("2001:db8::1")));
    // Private, loopback and unspecified destinations are not outbound.
    for server in [
        "10.1.2.3",
        "172.31.0.1",
        "192.168.0.1",
        "127.0.0.1",
        "127.255.0.9",
        "0.0.0.0",
        // IPv4-mapped addresses are their IPv4 address.
        "::ffff:10.1.2.3",
        "::ffff:127.0.0.1",
        "::ffff:0.0.0.0",
    ] {
        assert!(!fires(&connect(server)), "{server}");
    }
    assert!(fires(&connect("::ffff:8.8.8.8")));
    // Just outside the networks.
    assert!(fires(&connect("172.32.0.1")));
    assert!(fires(&connect("11.0.0.1")));
    // A non-blocking connect in progress.
    assert!(fires(
        &connect("8.8.8.8")
            .with("evt.rawres", -115i64)
            .with("fd.typechar", "6")
    ));
    assert!(!fires(&connect("8.8.8.8").with("evt.rawres", -111i64)));
    // Without the address (a socket the sensor could not resolve) `fd.ip != "0.0.0.0"` is
    // false, as every comparison on a missing value: the macro does not match.
    let no_address = event("connect")
        .with("evt.rawres", 0i64)
        .with("fd.typechar", "4")
        .with("fd.net", "8.8.8.8")
        .with("fd.snet", "8.8.8.8");
    assert!(!fires(&no_address));
    assert!(fires(&no_address.with("fd.ip", "8.8.8.8")));

    // An unconnected UDP send.
    let send = event("sendto")
        .with("evt.rawres", 12i64)
        .with("fd.ip", "1.1.1.1")
        .with("fd.net", "1.1.1.1")
        .with("fd.snet", "1.1.1.1")
        .with("fd.l4proto", "udp")
        .with("fd.typechar", "4")
        .with("fd.connected", false)
        .with("fd.name_changed", true);
    assert!(fires(&send));
    assert!(!fires(&send.clone().with("fd.l4proto", "tcp")));

    let event = connect("8.8.8.8");
    let alert = compiled.ruleset.evaluate(&event, MatchMode::First)[0].render_alert(&event, "h", 0);
    assert!(
        alert
            .output
            .ends_with("outbound (server=8.8.8.8 client=192.168.1.10 net=8.8.8.8 proc=curl)"),
        "{}",
        alert.output
    );
    assert_eq!(alert.output_fields["fd.sip"], "8.8.8.8");
    assert_eq!(alert.output_fields["fd.cip"], "192.168.1.10");
}

#[test]
fn constants_quoted_or_not() {
    let e = connect("169.254.169.254");
    assert!(matches("fd.rnet = 169.254.169.254/32", &e));
    assert!(matches("fd.rnet = \"169.254.169.254/32\"", &e));
    assert!(matches("fd.rnet = 169.254.0.0/16", &e));
    assert!(matches("fd.sip=\"169.254.169.254\"", &e));
    assert!(matches("fd.sip = 169.254.169.254", &e));
    assert!(matches("fd.sip in (1.2.3.4, 169.254.169.254)", &e));
    assert!(matches("fd.sip in ('1.2.3.4', \"169.254.169.254\")", &e));
    assert!(!matches("fd.sip in (1.2.3.4, 5.6.7.8)", &e));
    let v6 = connect("fd00::1");
    assert!(matches("fd.snet = fd00::/8", &v6));
    assert!(matches("fd.sip = fd00::1", &v6));
    assert!(matches("fd.sip = \"fd00:0:0::1\"", &v6));
    assert!(matches("fd.snet = fd00::1", &v6));
}

#[test]
fn addresses_are_equal_or_not() {
    let e = connect("10.1.2.3");
    assert!(matches("fd.sip = 10.1.2.3", &e));
    assert!(!matches("fd.sip = 10.1.2.4", &e));
    assert!(matches("fd.sip != 10.1.2.4", &e));
    assert!(!matches("fd.sip != 10.1.2.3", &e));
    // An IPv4 address never equals an IPv6 constant (libsinsp: `!=` holds across families).
    assert!(!matches("fd.sip = ::1", &e));
    assert!(matches("fd.sip != ::1", &e));
    // A mapped address is the IPv4 address, on either side.
    assert!(matches("fd.sip = ::ffff:10.1.2.3", &e));
    let mapped = connect("::ffff:10.1.2.3");
    assert!(matches("fd.sip = 10.1.2.3", &mapped));
    assert!(!matches("fd.sip != 10.1.2.3", &mapped));
    let v6 = connect("2001:db8::7");
    assert!(matches("fd.sip = 2001:db8::7", &v6));
    assert!(matches("fd.sip = \"2001:0db8:0000::0007\"", &v6));
    assert!(matches("fd.sip != 2001:db8::8", &v6));
    assert!(matches("fd.sip in (10.0.0.1, 2001:db8::7)", &v6));
    assert!(matches("fd.sip intersects (10.0.0.1, 2001:db8::7)", &v6));
    assert!(!matches("fd.sip in (10.0.0.1, 2001:db8::8)", &v6));
}

#[test]
fn networks_contain_addresses() {
    let e = connect("172.20.1.1");
    assert!(matches("fd.snet = 172.16.0.0/12", &e));
    assert!(!matches("fd.snet = 172.16.0.0/16", &e));
    assert!(matches("fd.snet != 172.16.0.0/16", &e));
    assert!(!matches("fd.snet != 172.16.0.0/12", &e));
    assert!(matches("fd.snet = 0.0.0.0/0", &e));
    // Host bits in the constant are ignored, as libsinsp masks both sides.
    assert!(matches("fd.snet = 172.20.255.255/16", &e));
    assert!(matches(
        "fd.snet in (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)",
        &e
    ));
    assert!(matches(
        "fd.snet intersects (10.0.0.0/8, 172.16.0.0/12)",
        &e
    ));
    assert!(!matches("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", &e));
    assert!(matches("not fd.snet in (10.0.0.0/8, 192.168.0.0/16)", &e));
    // Addresses and networks mixed in one list; a bare address is a network of one.
    assert!(matches("fd.snet in (10.0.0.0/8, 172.20.1.1)", &e));
    assert!(!matches("fd.snet in (10.0.0.0/8, 172.20.1.2)", &e));
    // Families do not mix: no IPv6 network holds an IPv4 address.
    assert!(!matches("fd.snet = ::/0", &e));
    assert!(matches("fd.snet != ::/0", &e));

    let v6 = connect("fd12:3456::1");
    assert!(matches("fd.snet = fd00::/8", &v6));
    assert!(matches("fd.snet in (10.0.0.0/8, fd00::/8)", &v6));
    assert!(!matches("fd.snet = fe80::/10", &v6));
    assert!(matches("fd.snet = ::/0", &v6));
    assert!(!matches("fd.snet = 0.0.0.0/0", &v6));

    // A mapped address lies in IPv4 networks, and mapped networks are IPv4 networks.
    let mapped = connect("::ffff:192.168.7.7");
    assert!(matches("fd.snet = 192.168.0.0/16", &mapped));
    assert!(matches("fd.snet = ::ffff:192.168.0.0/112", &mapped));
    assert!(matches(
        "fd.snet = ::ffff:192.168.0.0/112",
        &connect("192.168.1.1")
    ));
    assert!(!matches("fd.snet = ::/0", &mapped));
}

/// A missing address behaves as a missing string: every comparison false, `exists` false,
/// `not` of a comparison true.
#[test]
fn missing_addresses_are_like_missing_strings() {
    let e = event("connect").with("evt.rawres", 0i64);
    for (ip_condition, string_condition) in [
        ("fd.sip = 10.0.0.1", "fd.name = x"),
        ("fd.sip != 10.0.0.1", "fd.name != x"),
        ("fd.sip in (10.0.0.1, ::1)", "fd.name in (x, y)"),
        ("fd.snet = 10.0.0.0/8", "fd.name = x"),
        ("fd.snet != 10.0.0.0/8", "fd.name != x"),
        ("fd.snet in (10.0.0.0/8)", "fd.name in (x)"),
        ("fd.sip exists", "fd.name exists"),
        ("not fd.sip = 10.0.0.1", "not fd.name = x"),
        ("not fd.snet != 10.0.0.0/8", "not fd.name != x"),
        ("fd.sip = val(fd.cip)", "fd.name = val(fd.type)"),
        ("fd.sip != val(fd.cip)", "fd.name != val(fd.type)"),
    ] {
        let condition = format!("evt.type = connect and {ip_condition}");
        let reference = format!("evt.type = connect and {string_condition}");
        assert_eq!(
            matches(&condition, &e),
            matches(&reference, &e),
            "{ip_condition} / {string_condition}"
        );
    }
    assert!(!matches("fd.sip != 10.0.0.1", &e));
    assert!(matches("not fd.sip = 10.0.0.1", &e));
    assert!(matches("fd.sip exists", &connect("10.0.0.1")));
    assert!(!matches("fd.sip exists", &e));
}

#[test]
fn field_to_field_comparisons() {
    let e = connect("192.168.1.10");
    assert!(matches("fd.sip = val(fd.cip)", &e));
    assert!(!matches("fd.sip != val(fd.cip)", &e));
    let other = connect("::ffff:192.168.1.10");
    assert!(matches("fd.sip = val(fd.cip)", &other));
    let different = connect("8.8.8.8");
    assert!(matches("fd.sip != val(fd.cip)", &different));
    assert!(matches("fd.snet = val(fd.cnet)", &e));
    // Types must agree, as in Falco.
    assert!(
        error("fd.sip = val(fd.snet)")
            .contains("field 'fd.sip' has type 'ipaddr' while the right-hand side field 'fd.snet' has incompatible type 'ipnet'"),
        "{}",
        error("fd.sip = val(fd.snet)")
    );
    assert!(error("fd.sip = val(proc.name)").contains("incompatible type 'string'"));
}

/// A sensor may hand both ends of a connection for `fd.ip`/`fd.net`: a check holds if it
/// holds for either end, and `!=` only if neither end is equal (Falco's `fd.ip`).
#[test]
fn both_ends_of_a_connection() {
    let ends: Vec<IpAddr> = vec![
        "192.168.1.10".parse().expect("address"),
        "8.8.8.8".parse().expect("address"),
    ];
    let e = event("connect")
        .with("fd.ip", ends.clone())
        .with("fd.net", ends);
    assert!(matches("fd.ip = 8.8.8.8", &e));
    assert!(matches("fd.ip = 192.168.1.10", &e));
    assert!(!matches("fd.ip = 1.1.1.1", &e));
    assert!(!matches("fd.ip != 8.8.8.8", &e));
    assert!(matches("fd.ip != 1.1.1.1", &e));
    assert!(matches("fd.ip in (1.1.1.1, 8.8.8.8)", &e));
    assert!(matches("fd.net = 192.168.0.0/16", &e));
    assert!(!matches("fd.net != 192.168.0.0/16", &e));
    assert!(matches("fd.net != 127.0.0.0/8", &e));
    assert!(!matches("fd.net in (127.0.0.0/8, 10.0.0.0/8)", &e));
    let none = event("connect").with("fd.ip", Vec::<IpAddr>::new());
    assert!(!matches("fd.ip = 8.8.8.8", &none));
    assert!(!matches("fd.ip != 8.8.8.8", &none));
}

#[test]
fn bad_constants_are_errors_naming_the_value() {
    let message = error("fd.sip = 10.0.0.0/8");
    assert!(
        message.contains("`10.0.0.0/8` is a network, but field `fd.sip` (ipaddr) is compared with single addresses")
            && message.contains("use `fd.snet`"),
        "{message}"
    );
    assert!(error("fd.rip in (1.2.3.4, fd00::/8)").contains("use `fd.rnet`"));
    let message = error("fd.sip = 1.2.3");
    assert!(
        message.contains("`1.2.3` is not a valid IP address for field `fd.sip` (ipaddr): not an IPv4 or IPv6 address; use an IPv4 or IPv6 address"),
        "{message}"
    );
    assert!(
        error("fd.sip in (1.2.3.4, localhost)").contains("`localhost` is not a valid IP address")
    );
    assert!(error("fd.sip = \"10.0.0.1 \"").contains("`10.0.0.1 ` is not a valid IP address"));
    let message = error("fd.snet = 10.0.0.0/33");
    assert!(
        message.contains("`10.0.0.0/33` is not a valid network for field `fd.snet` (ipnet): the prefix /33 is longer than the 32 bits of an IPv4 address; use a network such as 10.0.0.0/8"),
        "{message}"
    );
    assert!(error("fd.snet = fd00::/129")
        .contains("the prefix /129 is longer than the 128 bits of an IPv6 address"));
    assert!(error("fd.snet = 10.0.0.0/x").contains("the prefix length after `/` is not a number"));
    let message = error("fd.snet in (10.0.0.0/8, nonsense)");
    assert!(
        message.contains("`nonsense` is not a valid network for field `fd.snet` (ipnet): not an IPv4 or IPv6 address"),
        "{message}"
    );
    // The error points at the value.
    let compiled = build(&rule("fd.snet in (10.0.0.0/8, nonsense)", "out"));
    let diagnostic = compiled.report.errors().next().expect("an error");
    assert_eq!(
        (diagnostic.position.line, diagnostic.position.column),
        (3, 39)
    );
    assert_eq!(compiled.report.failed(), 1);
}

#[test]
fn only_equality_and_membership_operators() {
    // Ordering operators take numbers (`fd.sip > 10.0.0.1` does not parse, as in Falco).
    for (condition, operator) in [
        ("fd.sip > 10", ">"),
        ("fd.sip <= 1", "<="),
        ("fd.sip contains 10.0", "contains"),
        ("fd.sip startswith 10.", "startswith"),
        ("fd.sip glob 10.*", "glob"),
        ("fd.sip regex 10.*", "regex"),
        ("fd.sip icontains a", "icontains"),
        ("fd.sip pmatch (10.0.0.1)", "pmatch"),
        ("fd.snet < 0", "<"),
        ("fd.snet endswith /8", "endswith"),
        ("fd.snet bcontains 0a", "bcontains"),
        ("fd.snet pmatch (10.0.0.0/8)", "pmatch"),
    ] {
        let message = error(condition);
        let field = condition.split(' ').next().unwrap_or_default();
        let field_type = if field == "fd.sip" { "ipaddr" } else { "ipnet" };
        assert_eq!(
            message,
            format!("'{operator}' operator not supported for ip address and network filters: `{field}` is {field_type}; use one of =, !=, in, intersects"),
        );
    }
    assert!(error("fd.sip = anyof (10.0.0.1, 10.0.0.2)").contains("works on string fields only"));
    assert!(error("len(fd.sip) > 0").contains("type 'ipaddr' is not supported by 'len'"));
    assert!(error("tolower(fd.snet) = x").contains("type 'ipnet' is not supported by 'tolower'"));
}

#[test]
fn addresses_in_outputs() {
    let compiled = build(&rule(
        "evt.type = connect",
        "%fd.sip %fd.cip %fd.snet %fd.rip [%4fd.lip] %fd.ip",
    ));
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled.ruleset.rule("under test").expect("compiled");
    let e = event("connect")
        .with("fd.sip", "127.0.0.1")
        .with("fd.cip", "::1")
        .with("fd.snet", "fd00::1")
        .with("fd.rip", "::ffff:10.1.2.3")
        .with("fd.lip", "192.168.1.10");
    assert_eq!(
        rule.render_output(&e),
        "127.0.0.1 ::1 fd00::1 ::ffff:10.1.2.3 [192.] <NA>"
    );
    let alert = rule.render_alert(&e, "h", 0);
    assert_eq!(alert.output_fields["fd.sip"], "127.0.0.1");
    assert_eq!(alert.output_fields["fd.cip"], "::1");
    assert_eq!(alert.output_fields["fd.snet"], "fd00::1");
    assert!(alert.output_fields["fd.ip"].is_null());
}

#[test]
fn exceptions_on_addresses() {
    let yaml = "\
- rule: Metadata access
  desc: d
  condition: evt.type = connect and fd.snet = 169.254.0.0/16
  output: '%fd.sip'
  priority: NOTICE
  exceptions:
    - name: known
      fields: [proc.name, fd.sip]
      values:
        - [agent, 169.254.169.254]
    - name: known_nets
      fields: fd.cnet
      values: [10.0.0.0/8, fd00::/8]
";
    let compiled = build(yaml);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let fires = |event: &MapEvent| !compiled.ruleset.evaluate(event, MatchMode::All).is_empty();
    let metadata = connect("169.254.169.254");
    assert!(fires(&metadata));
    assert!(!fires(&metadata.clone().with("proc.name", "agent")));
    assert!(!fires(&metadata.clone().with("fd.cnet", "10.9.9.9")));
    assert!(!fires(&metadata.clone().with("fd.cnet", "fd00::9")));
    assert!(fires(&metadata.with("fd.cnet", "11.9.9.9")));

    let bad = yaml.replace("[agent, 169.254.169.254]", "[agent, 169.254.0.0/16]");
    let compiled = build(&bad);
    assert!(compiled.report.has_errors());
    let message = &compiled.report.errors().next().expect("an error").message;
    assert!(
        message.contains("`169.254.0.0/16` is a network"),
        "{message}"
    );
}

fn conformance(files: &[&str]) -> CheckReport {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/falco-rules"
    ));
    let sources = files
        .iter()
        .map(|file| RuleSource::from_file(&dir.join(file)).expect("conformance file is readable"))
        .collect();
    let options = CompileOptions {
        registry: network_registry(),
        captured_event_types: captured(),
        ..CompileOptions::default()
    };
    check_sources(sources, options)
}

/// Falco's own files with the address and network fields supplied: no errors (every
/// address and network constant parses), and no rule is skipped for want of them.
#[test]
fn falco_network_rules_compile_with_the_network_fields() {
    let report = conformance(&[
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]);
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(report.failed(), 0, "{report}");
    for rule in &report.rules {
        if let RuleStatus::Skipped { reasons, .. } = &rule.status {
            for reason in reasons {
                for field in [
                    "fd.ip", "fd.sip", "fd.cip", "fd.lip", "fd.rip", "fd.net", "fd.snet",
                    "fd.cnet", "fd.lnet", "fd.rnet",
                ] {
                    assert_ne!(
                        reason,
                        &format!("field `{field}` is not supplied by this sensor"),
                        "{}",
                        rule.name
                    );
                }
            }
        }
    }
    println!(
        "{} rules, {} compiled, {} skipped",
        report.rules.len(),
        report.compiled(),
        report.skipped()
    );
    for (reason, count) in report.primary_skip_reasons().iter().take(10) {
        println!("  {count:3} x {reason}");
    }
    // With the default registry 30 compile; these needed only the network fields.
    assert_eq!(report.compiled(), 36, "{report}");
    for name in [
        "Contact EC2 Instance Metadata Service From Container",
        "Contact cloud metadata service from container",
        "Network Connection outside Local Subnet",
        "Interpreted procs inbound network activity",
        "Interpreted procs outbound network activity",
    ] {
        let rule = report
            .rules
            .iter()
            .find(|r| r.name == name)
            .expect("rule present");
        assert!(
            matches!(rule.status, RuleStatus::Compiled { .. }),
            "{name}: {:?}",
            rule.status
        );
    }
}
