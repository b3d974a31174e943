//! Parser tests: every operator, the grammar's corners, and the error messages with their
//! offsets.

use super::*;

fn parse(text: &str) -> Expr {
    match parse_condition(text, SourceId(0)) {
        Ok(expr) => expr,
        Err(error) => panic!("`{text}` must parse, got {error:?}"),
    }
}

fn error(text: &str) -> ParseError {
    match parse_condition(text, SourceId(0)) {
        Ok(expr) => panic!("`{text}` must not parse, got {expr:?}"),
        Err(error) => error,
    }
}

/// The operator, modifier and right side of a single check.
fn check(text: &str) -> (Operator, Option<Modifier>, Value) {
    match parse(text) {
        Expr::Compare {
            operator,
            modifier,
            right,
            ..
        } => (operator, modifier, right),
        other => panic!("`{text}` is not a check: {other:?}"),
    }
}

fn scalar(value: &Value) -> &[u8] {
    match value {
        Value::Scalar { text, .. } => text,
        other => panic!("not a scalar: {other:?}"),
    }
}

fn list(value: &Value) -> Vec<String> {
    match value {
        Value::List(items, _) => items
            .iter()
            .map(|i| String::from_utf8_lossy(&i.value).into_owned())
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn every_comparison_operator() {
    let cases: &[(&str, Operator, &str)] = &[
        ("proc.name = bash", Operator::Eq, "bash"),
        ("proc.name == bash", Operator::Eq, "bash"),
        ("proc.name=bash", Operator::Eq, "bash"),
        ("proc.name != bash", Operator::Ne, "bash"),
        ("proc.pid < 10", Operator::Lt, "10"),
        ("proc.pid <= 10", Operator::Le, "10"),
        ("proc.pid > 10", Operator::Gt, "10"),
        ("proc.pid >= 10", Operator::Ge, "10"),
        ("proc.pid>=-1", Operator::Ge, "-1"),
        ("proc.pid > 0x1F", Operator::Gt, "0x1F"),
        ("proc.cmdline contains curl", Operator::Contains, "curl"),
        ("proc.cmdline icontains CURL", Operator::IContains, "CURL"),
        ("evt.arg.data bcontains 6162", Operator::BContains, "6162"),
        (
            "proc.exepath startswith /usr/",
            Operator::StartsWith,
            "/usr/",
        ),
        (
            "evt.arg.data bstartswith 7f454c46",
            Operator::BStartsWith,
            "7f454c46",
        ),
        ("proc.exepath endswith /nc", Operator::EndsWith, "/nc"),
        ("proc.exepath glob /tmp/*", Operator::Glob, "/tmp/*"),
        ("proc.exepath iglob /TMP/*", Operator::IGlob, "/TMP/*"),
        (
            "proc.cmdline regex \"^curl .*\"",
            Operator::Regex,
            "^curl .*",
        ),
    ];
    for (text, operator, value) in cases {
        let (parsed, modifier, right) = check(text);
        assert_eq!(parsed, *operator, "{text}");
        assert_eq!(modifier, None, "{text}");
        assert_eq!(scalar(&right), value.as_bytes(), "{text}");
    }
}

#[test]
fn list_operators() {
    for (text, operator) in [
        ("proc.name in (bash, sh)", Operator::In),
        ("proc.name in(bash, sh)", Operator::In),
        ("k8s.pod.labels intersects (bash, sh)", Operator::Intersects),
        ("proc.exepath pmatch (bash, sh)", Operator::PMatch),
    ] {
        let (parsed, _, right) = check(text);
        assert_eq!(parsed, operator, "{text}");
        assert_eq!(list(&right), ["bash", "sh"], "{text}");
    }
    let (_, _, right) = check("proc.name in shell_binaries");
    assert!(matches!(right, Value::ListName(ref name, _) if name == "shell_binaries"));
}

#[test]
fn exists_operator() {
    assert!(
        matches!(parse("proc.pname exists"), Expr::Exists(Operand::Field(ref f), _) if f.name == "proc.pname")
    );
    assert!(matches!(parse("not proc.pname exists"), Expr::Not(..)));
}

#[test]
fn string_operator_modifiers() {
    for (text, operator, modifier) in [
        (
            "proc.name startswith oneof (a, b)",
            Operator::StartsWith,
            Modifier::OneOf,
        ),
        (
            "proc.name contains anyof (a, b)",
            Operator::Contains,
            Modifier::AnyOf,
        ),
        ("proc.name = allof (a, b)", Operator::Eq, Modifier::AllOf),
        (
            "proc.name glob anyof (a, b)",
            Operator::Glob,
            Modifier::AnyOf,
        ),
    ] {
        let (parsed, parsed_modifier, right) = check(text);
        assert_eq!(
            (parsed, parsed_modifier),
            (operator, Some(modifier)),
            "{text}"
        );
        assert_eq!(list(&right), ["a", "b"]);
    }
    // A modifier word followed by a boolean keyword is a plain value.
    let expr = parse("proc.name = oneof and proc.pid = 1");
    let Expr::And(children, _) = expr else {
        panic!("and")
    };
    assert!(
        matches!(&children[0], Expr::Compare { modifier: None, right: Value::Scalar { text, .. }, .. } if text == b"oneof")
    );
}

#[test]
fn precedence_not_and_or() {
    // `or` binds loosest, then `and`, then `not`.
    let expr = parse("a.b = 1 or c.d = 2 and not e.f = 3");
    let Expr::Or(children, _) = expr else {
        panic!("or at the top")
    };
    assert_eq!(children.len(), 2);
    assert!(matches!(children[0], Expr::Compare { .. }));
    let Expr::And(inner, _) = &children[1] else {
        panic!("and below or")
    };
    assert!(matches!(inner[1], Expr::Not(..)));
    // Parentheses regroup.
    let Expr::And(children, _) = parse("(a.b = 1 or c.d = 2) and e.f = 3") else {
        panic!("and")
    };
    assert!(matches!(children[0], Expr::Or(..)));
    // Double negation cancels, `not(` needs no blank.
    assert!(matches!(parse("not not a.b = 1"), Expr::Compare { .. }));
    assert!(matches!(parse("not(a.b = 1)"), Expr::Not(..)));
    assert!(matches!(parse("a.b = 1 and(c.d = 2)"), Expr::And(..)));
    assert!(matches!(parse("a.b = 1 or(c.d = 2)"), Expr::Or(..)));
}

#[test]
fn macros_are_identifiers() {
    let Expr::And(children, _) = parse("spawned_process and not user_known_x") else {
        panic!("and")
    };
    assert!(matches!(&children[0], Expr::Identifier(name, _) if name == "spawned_process"));
    assert!(matches!(&children[1], Expr::Not(inner, _) if matches!(**inner, Expr::Identifier(..))));
}

#[test]
fn lists_quoted_empty_and_multiline() {
    let (_, _, right) = check("proc.name in (\"a b\", 'c', d-e, /usr/bin/x)");
    assert_eq!(list(&right), ["a b", "c", "d-e", "/usr/bin/x"]);
    let (_, _, right) = check("proc.name in ()");
    assert!(list(&right).is_empty());
    let (_, _, right) = check("proc.name in (\n  a,\n  b\n)");
    assert_eq!(list(&right), ["a", "b"]);
    match check("proc.name in (a, \"b\")").2 {
        Value::List(items, _) => assert!(!items[0].quoted && items[1].quoted),
        other => panic!("{other:?}"),
    }
}

#[test]
fn field_arguments() {
    let field = |text: &str| match parse(text) {
        Expr::Compare {
            left: Operand::Field(field),
            ..
        } => (field.name, field.arg),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field("proc.aname[2] = sshd"),
        ("proc.aname".into(), Some("2".into()))
    );
    assert_eq!(
        field("evt.arg[1] = x"),
        ("evt.arg".into(), Some("1".into()))
    );
    assert_eq!(
        field("k8s.pod.label[app.kubernetes.io/name] = x"),
        (
            "k8s.pod.label".into(),
            Some("app.kubernetes.io/name".into())
        )
    );
    assert_eq!(
        field("k8s.pod.label[\"my label\"] = x"),
        ("k8s.pod.label".into(), Some("my label".into()))
    );
    assert_eq!(
        field("evt.arg.mode contains S_ISUID"),
        ("evt.arg.mode".into(), None)
    );
    assert_eq!(
        field("k8s.pod.label.app = web"),
        ("k8s.pod.label.app".into(), None)
    );
}

#[test]
fn transformers_and_field_values() {
    let left = |text: &str| match parse(text) {
        Expr::Compare { left, .. } => left.display(),
        Expr::Exists(left, _) => left.display(),
        other => panic!("{other:?}"),
    };
    assert_eq!(left("tolower(proc.name) = bash"), "tolower(proc.name)");
    assert_eq!(
        left("toupper( tolower(proc.name) ) = BASH"),
        "toupper(tolower(proc.name))"
    );
    assert_eq!(left("b64(proc.args) contains x"), "b64(proc.args)");
    assert_eq!(
        left("basename(proc.exepath) = nc"),
        "basename(proc.exepath)"
    );
    assert_eq!(left("len(proc.args) > 10"), "len(proc.args)");
    let (_, _, right) = check("proc.name = val(proc.pname)");
    assert!(matches!(right, Value::Operand(Operand::Transformer(ref t)) if t.name == "val"));
    let (_, _, right) = check("proc.name != tolower(proc.pname)");
    assert!(matches!(right, Value::Operand(Operand::Transformer(ref t)) if t.name == "tolower"));
    let (_, _, right) = check("proc.pid > val(proc.ppid)");
    assert!(matches!(right, Value::Operand(_)));
}

#[test]
fn quoted_strings_and_escapes() {
    assert_eq!(scalar(&check(r#"proc.name = "a\tb""#).2), b"a\tb");
    assert_eq!(scalar(&check(r#"proc.name = 'x\x41y'"#).2), b"xAy");
    assert_eq!(
        scalar(&check(r#"proc.name = "say \"hi\"""#).2),
        b"say \"hi\""
    );
    assert_eq!(scalar(&check(r#"proc.name = 'it\'s'"#).2), b"it's");
    assert_eq!(scalar(&check(r#"proc.name = "a b""#).2), b"a b");
    assert_eq!(scalar(&check(r#"proc.name = """#).2), b"");
    // Bare strings keep backslashes as written.
    assert_eq!(scalar(&check(r"proc.name = a\b").2), b"a\\b");
}

#[test]
fn spans_point_into_the_text() {
    let text = "proc.name = bash and proc.pid > 1";
    let Expr::And(children, span) = parse(text) else {
        panic!("and")
    };
    assert_eq!((span.start, span.end), (0, text.len() as u32));
    let second = children[1].span();
    assert_eq!(
        &text[second.start as usize..second.end as usize],
        "proc.pid > 1"
    );
}

#[test]
fn error_empty_condition() {
    let e = error("");
    assert_eq!(e.offset, 0);
    assert!(
        e.message.starts_with("filter input string is empty"),
        "{}",
        e.message
    );
}

#[test]
fn error_unclosed_parenthesis() {
    let e = error("(proc.name = a and proc.pid = 1");
    assert_eq!(e.offset, 31);
    assert!(
        e.message.starts_with("expected a ')' token"),
        "{}",
        e.message
    );
    assert_eq!(e.related, Some(0));
}

#[test]
fn error_trailing_token() {
    let e = error("proc.name = a proc.pid = 1");
    assert_eq!(e.offset, 14);
    assert_eq!(
        e.message,
        "unexpected token after 'a', expecting 'or', 'and'"
    );
}

#[test]
fn error_missing_operator() {
    let e = error("proc.name bash");
    assert_eq!(e.offset, 10);
    assert!(
        e.message
            .starts_with("expected a valid check operator: one of 'exists', '<='"),
        "{}",
        e.message
    );
    // A word operator needs a blank after it.
    assert!(error("proc.name contains(x)")
        .message
        .starts_with("expected a valid check operator"));
}

#[test]
fn error_number_expected() {
    let e = error("proc.pid > abc");
    assert_eq!(e.offset, 11);
    assert!(
        e.message
            .starts_with("expected a number value or a field with a valid transformer"),
        "{}",
        e.message
    );
}

#[test]
fn error_blank_after_boolean_operator() {
    let e = error("proc.name = a andproc.pid = 1");
    assert_eq!(e.offset, 17);
    assert_eq!(e.message, "expected blank or '(' after 'and'");
    let e = error("proc.name = a orproc.pid = 1");
    assert_eq!(e.offset, 16);
    assert_eq!(e.message, "expected blank or '(' after 'or'");
}

#[test]
fn error_bad_escape() {
    let e = error(r#"proc.name = "a\qb""#);
    assert_eq!(e.offset, 12);
    assert!(
        e.message
            .starts_with("unsupported string escape sequence: \\q"),
        "{}",
        e.message
    );
}

#[test]
fn error_unclosed_list_and_argument() {
    let e = error("proc.name in (a, b");
    assert_eq!(e.offset, 18);
    assert!(
        e.message
            .starts_with("expected a ')' token to close the list"),
        "{}",
        e.message
    );
    let e = error("proc.aname[2 = x");
    assert_eq!(e.offset, 12);
    assert!(
        e.message.starts_with("expected a ']' token"),
        "{}",
        e.message
    );
    let e = error("proc.aname[] = x");
    assert!(
        e.message.starts_with("expected a valid field argument"),
        "{}",
        e.message
    );
}

#[test]
fn error_not_a_check() {
    let e = error("= x");
    assert_eq!(e.offset, 0);
    assert_eq!(
        e.message,
        "expected a '(' token, a field check, or an identifier"
    );
    let e = error("proc.name = tolower(5x)");
    assert!(
        e.message
            .starts_with("expected a ')' token closing the transformer"),
        "{}",
        e.message
    );
}

#[test]
fn error_depth_limit() {
    // Runs on a test thread's default 2 MiB stack: the limit must trip before the stack does.
    let text = "(".repeat(2000) + "a.b = 1" + &")".repeat(2000);
    let e = error(&text);
    assert!(
        e.message.starts_with("exceeded max depth limit"),
        "{}",
        e.message
    );
    let nested = "(".repeat(40) + "a.b = 1" + &")".repeat(40);
    parse(&nested);
}
