//! Compiles one check (`field op value`, `field exists`) into a program node: checks the
//! operator against the field type (as libsinsp's `flt_is_comparable`), parses constants
//! into the field's type, and builds the matcher once.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use regex::bytes::RegexBuilder;

use super::event_types::{evt_num_invariant, Invariant};
use super::extract::Source;
use super::matchers::{
    parse_integer, parse_ip_address, ByteSet, GlobPattern, IpNetwork, IpParseError, IpTest, NumOp,
    NumTest, PathPrefixSet, StrTest,
};
use super::operand::{BuiltOperand, OperandBuilder};
use super::pattern_budget::PatternBudget;
use super::problems::Problems;
use super::program::{
    Check, FieldTest, IpFieldCheck, ListMode, Node, NumFieldCheck, StrFieldCheck, Test,
};
use crate::condition::{ListItem, Modifier, Operand, Operator, Span, Value};
use crate::diagnostic::{Diagnostic, Position};
use crate::fields::{EventTypeId, EventTypeMask, FieldRegistry, FieldType, Resolution, Shape};
use crate::limits::MAX_REGEX_SIZE;

const NUMERIC_OPERATORS: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::Lt,
    Operator::Le,
    Operator::Gt,
    Operator::Ge,
    Operator::In,
    Operator::Intersects,
];
const BOOL_OPERATORS: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::In,
    Operator::Intersects,
];
/// libsinsp's `flt_is_comparable_ip_or_net`: equality and membership only.
const IP_OPERATORS: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::In,
    Operator::Intersects,
];
const BYTES_OPERATORS: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::Contains,
    Operator::In,
    Operator::StartsWith,
    Operator::EndsWith,
    Operator::Intersects,
    Operator::BContains,
    Operator::BStartsWith,
];

fn allowed_operators(field_type: FieldType) -> Option<&'static [Operator]> {
    match field_type {
        // Strings take every operator (bcontains/bstartswith too: the sensor's strings are
        // bytes, so the byte operators make sense on them).
        FieldType::String => None,
        FieldType::Bytes => Some(BYTES_OPERATORS),
        FieldType::Int64 | FieldType::Uint64 | FieldType::AbsTime => Some(NUMERIC_OPERATORS),
        FieldType::Bool => Some(BOOL_OPERATORS),
        FieldType::Ip | FieldType::IpNet => Some(IP_OPERATORS),
    }
}

/// The family libsinsp names in "'<' operator not supported for ... filters".
fn type_family(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::String => "string",
        FieldType::Bytes => "buffer",
        FieldType::Bool => "boolean",
        FieldType::Int64 | FieldType::Uint64 | FieldType::AbsTime => "numeric",
        FieldType::Ip | FieldType::IpNet => "ip address and network",
    }
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The constants each field is compared with, by field registry name (`proc.aname` for
/// `proc.aname[2]`), sorted and deduplicated.
pub(crate) type ComparedConstants = BTreeMap<String, BTreeSet<String>>;

/// The constants the checks built so far compare their fields with, in build order, so
/// that a subtree folded away (to `true` or `false`) can take its constants back.
#[derive(Debug, Default)]
pub(crate) struct ConstantLog {
    entries: RefCell<Vec<(String, String)>>,
}

impl ConstantLog {
    fn record<'v>(&self, field: &str, values: impl IntoIterator<Item = &'v ListItem>) {
        self.entries.borrow_mut().extend(
            values
                .into_iter()
                .map(|item| (field.to_string(), text_of(&item.value))),
        );
    }

    /// Where the log ends now, for [`Self::truncate`].
    pub fn mark(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Forgets what was recorded after `mark`.
    pub fn truncate(&self, mark: usize) {
        self.entries.borrow_mut().truncate(mark);
    }

    pub fn into_constants(self) -> ComparedConstants {
        let mut constants = ComparedConstants::new();
        for (field, value) in self.entries.into_inner() {
            constants.entry(field).or_default().insert(value);
        }
        constants
    }
}

pub(crate) struct CheckBuilder<'a> {
    pub operands: OperandBuilder<'a>,
    pub registry: &'a FieldRegistry,
    /// Per-value patterns compiled so far in this load.
    pub budget: &'a PatternBudget,
    /// The constants of the checks built for the rule.
    pub constants: ConstantLog,
}

impl CheckBuilder<'_> {
    fn position(&self, span: Span) -> Position {
        self.operands.sources.position(span)
    }

    pub fn build_exists(&self, operand: &Operand, problems: &mut Problems) -> Node {
        match self.operands.build(operand, problems) {
            Some(built) => Node::Exists(Box::new(built.extractor)),
            None => Node::Const(false),
        }
    }

    pub fn build_compare(
        &self,
        left: &Operand,
        operator: Operator,
        modifier: Option<Modifier>,
        right: &Value,
        span: Span,
        problems: &mut Problems,
    ) -> Node {
        let Some(built) = self.operands.build(left, problems) else {
            return Node::Const(false);
        };
        if modifier.is_none() {
            // `never_true` (`evt.num = 0`) and its siblings are constants: event numbers
            // start at 1. Folding them keeps `and not never_true` out of every evaluation.
            match evt_num_invariant(left, operator, right) {
                Some(Invariant::Empty) => return Node::Const(false),
                Some(Invariant::All) => return Node::Const(true),
                None => {}
            }
        }
        let position = self.position(span);
        if let Some(allowed) = allowed_operators(built.field_type) {
            if !allowed.contains(&operator) {
                let names: Vec<&str> = allowed.iter().map(|op| op.as_str()).collect();
                problems.errors.push(Diagnostic::error(
                    position,
                    format!(
                        "'{operator}' operator not supported for {} filters: `{}` is {}; use one of {}",
                        type_family(built.field_type),
                        built.extractor.field.name(),
                        built.field_type,
                        names.join(", ")
                    ),
                ));
                return Node::Const(false);
            }
        }
        if modifier.is_some() && !matches!(built.field_type, FieldType::String | FieldType::Bytes) {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "'{operator} {}' works on string fields only, and `{}` is {}",
                    modifier.map(Modifier::as_str).unwrap_or_default(),
                    built.extractor.field.name(),
                    built.field_type
                ),
            ));
            return Node::Const(false);
        }
        let values: Vec<&ListItem>;
        let scalar_holder;
        match right {
            Value::Operand(operand) => {
                return self.build_field_comparison(built, operator, operand, span, problems)
            }
            Value::Scalar { text, quoted, span } => {
                if !quoted {
                    self.warn_if_field_name(text, *span, problems);
                }
                scalar_holder = ListItem {
                    value: text.clone(),
                    quoted: *quoted,
                    span: *span,
                };
                values = vec![&scalar_holder];
            }
            Value::List(items, _) => values = items.iter().collect(),
            Value::ListName(name, span) => {
                scalar_holder = ListItem {
                    value: name.as_bytes().to_vec(),
                    quoted: false,
                    span: *span,
                };
                values = vec![&scalar_holder];
            }
        }
        if built.is_event_type && modifier.is_none() {
            if let Some(node) = self.event_type_node(operator, &values, problems) {
                self.record_constants(&built, &values);
                return node;
            }
        }
        let list_mode = match (built.shape, operator) {
            (Shape::List, Operator::In) => ListMode::All,
            (Shape::List, Operator::Intersects) => ListMode::Any,
            (Shape::List, _) => ListMode::Joined,
            _ => ListMode::Any,
        };
        let test = match built.field_type {
            FieldType::String | FieldType::Bytes => {
                match self.string_test(operator, modifier, &values, span, problems) {
                    Some(test) => Test::Str(test),
                    None => return Node::Const(false),
                }
            }
            FieldType::Ip | FieldType::IpNet => {
                match self.ip_test(operator, &built, &values, problems) {
                    Some(test) => Test::Ip(test),
                    None => return Node::Const(false),
                }
            }
            numeric_or_bool @ (FieldType::Int64
            | FieldType::Uint64
            | FieldType::AbsTime
            | FieldType::Bool) => {
                match self.number_test(operator, numeric_or_bool, &built, &values, problems) {
                    Some(test) => Test::Num(test),
                    None => return Node::Const(false),
                }
            }
        };
        self.record_constants(&built, &values);
        let direct = matches!(built.extractor.source, Source::Event)
            && built.extractor.transformers.is_empty();
        match (test, direct) {
            (Test::Str(test), true) => Node::StrField(Box::new(StrFieldCheck {
                field: built.extractor.field,
                test,
                list_mode,
            })),
            (Test::Num(test), true) if built.shape != Shape::List => {
                Node::NumField(Box::new(NumFieldCheck {
                    field: built.extractor.field,
                    test,
                }))
            }
            (Test::Ip(test), true) => Node::IpField(Box::new(IpFieldCheck {
                field: built.extractor.field,
                test,
                list_mode,
            })),
            (test, _) => Node::Check(Box::new(Check {
                left: built.extractor,
                test,
                list_mode,
            })),
        }
    }

    /// Records the constants a check compares its field with, as the check compares them
    /// (unquoted, escapes resolved), under the field's registry name. A transformed
    /// operand (`tolower(fd.name)`, `len(proc.args)`) is not the field: nothing is recorded.
    fn record_constants(&self, built: &BuiltOperand, values: &[&ListItem]) {
        if built.transformed {
            return;
        }
        let field = &built.extractor.field;
        let name = match self.registry.get(field.id) {
            Some(def) => def.name.as_ref(),
            None => field.name(),
        };
        self.constants.record(name, values.iter().copied());
    }

    /// Falco warns when a bare value is the name of a field: `val(...)` was probably meant.
    fn warn_if_field_name(&self, text: &[u8], span: Span, problems: &mut Problems) {
        let Ok(name) = std::str::from_utf8(text) else {
            return;
        };
        if !name.contains('.') {
            return;
        }
        let is_field = match self.registry.resolve_without_hints(name, None) {
            Resolution::Supplied { .. } | Resolution::NotSupplied { .. } => true,
            Resolution::Unknown { .. } | Resolution::BadArgument { .. } => false,
        };
        if is_field {
            problems.warnings.push(Diagnostic::warning(
                self.position(span),
                format!("'{name}' may be a valid field misused as a const string value; write `val({name})` to compare with the field"),
            ));
        }
    }

    /// `evt.type = x`, `evt.type != x`, `evt.type in (...)` become a bit test on the
    /// event type id. Unknown names are Falco's "unknown event type" error.
    fn event_type_node(
        &self,
        operator: Operator,
        values: &[&ListItem],
        problems: &mut Problems,
    ) -> Option<Node> {
        if !matches!(operator, Operator::Eq | Operator::Ne | Operator::In) {
            return None;
        }
        let mut mask = EventTypeMask::default();
        for item in values {
            let name = text_of(&item.value);
            match EventTypeId::from_name(&name) {
                Some(id) => mask.insert(id),
                None => problems.unknown.push(Diagnostic::error(
                    self.position(item.span),
                    format!(
                        "unknown event type {name}: Falco knows no event or syscall by that name"
                    ),
                )),
            }
        }
        let node = Node::EventType(Box::new(mask));
        Some(if operator == Operator::Ne {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    fn single_string_test(
        &self,
        operator: Operator,
        item: &ListItem,
        problems: &mut Problems,
    ) -> Option<StrTest> {
        let value = item.value.as_slice();
        let hex = |problems: &mut Problems| {
            let decoded = unhex(value);
            if decoded.is_none() {
                problems.errors.push(Diagnostic::error(
                    self.position(item.span),
                    format!("bcontains and bstartswith operator support hex strings only: `{}` is not an even-length hex string such as `2f746d70`", text_of(value)),
                ));
            }
            decoded
        };
        Some(match operator {
            Operator::Eq => StrTest::Eq(value.into()),
            Operator::Ne => StrTest::Ne(value.into()),
            Operator::Lt => StrTest::Lt(value.into()),
            Operator::Le => StrTest::Le(value.into()),
            Operator::Gt => StrTest::Gt(value.into()),
            Operator::Ge => StrTest::Ge(value.into()),
            Operator::Contains => StrTest::Contains(Box::new(Finder::new(value).into_owned())),
            Operator::IContains => match AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([value])
            {
                Ok(searcher) => StrTest::IContains(searcher),
                Err(error) => {
                    problems.errors.push(Diagnostic::error(
                        self.position(item.span),
                        format!("cannot build icontains matcher: {error}"),
                    ));
                    return None;
                }
            },
            Operator::BContains => {
                StrTest::Contains(Box::new(Finder::new(&hex(problems)?).into_owned()))
            }
            Operator::StartsWith => StrTest::StartsWith(value.into()),
            Operator::BStartsWith => StrTest::StartsWith(hex(problems)?.into()),
            Operator::EndsWith => StrTest::EndsWith(value.into()),
            Operator::Glob => StrTest::Glob(GlobPattern::new(value, false)),
            Operator::IGlob => StrTest::Glob(GlobPattern::new(value, true)),
            Operator::Regex => {
                let pattern = format!("^(?:{})$", text_of(value));
                let built = RegexBuilder::new(&pattern)
                    .size_limit(MAX_REGEX_SIZE)
                    .dfa_size_limit(MAX_REGEX_SIZE)
                    .build();
                match built {
                    Ok(regex) => StrTest::Regex(regex),
                    Err(error) => {
                        problems.errors.push(Diagnostic::error(
                            self.position(item.span),
                            format!("invalid regex pattern `{}`: {error}", text_of(value)),
                        ));
                        return None;
                    }
                }
            }
            Operator::In | Operator::Intersects => StrTest::In(ByteSet::new([value.to_vec()])),
            Operator::PMatch => StrTest::PMatch(PathPrefixSet::new([value])),
            Operator::Exists => return None,
        })
    }

    /// Charges the patterns a check compiles one per value; `false` (with the error) past
    /// the budget, before any is compiled.
    fn charge_patterns(
        &self,
        operator: Operator,
        modifier: Option<Modifier>,
        values: usize,
        span: Span,
        problems: &mut Problems,
    ) -> bool {
        let mut charged = Ok(());
        if let Some(modifier) = modifier {
            let what = format!("{operator} {}", modifier.as_str());
            charged = self
                .budget
                .charge_modifier_values(values, &what, self.position(span));
        }
        if operator == Operator::Regex {
            charged =
                charged.and_then(|()| self.budget.charge_regexes(values, self.position(span)));
        }
        match charged {
            Ok(()) => true,
            Err(error) => {
                problems.errors.push(error);
                false
            }
        }
    }

    fn string_test(
        &self,
        operator: Operator,
        modifier: Option<Modifier>,
        values: &[&ListItem],
        span: Span,
        problems: &mut Problems,
    ) -> Option<StrTest> {
        if let Some(modifier) = modifier {
            let set = match (modifier, operator) {
                (Modifier::AnyOf, Operator::Eq) | (Modifier::AllOf, Operator::Ne) => {
                    Some(ByteSet::new(values.iter().map(|item| item.value.clone())))
                }
                _ => None,
            };
            // A set answers alone: no matcher per value.
            if set.is_some() {
                return Some(StrTest::Modified {
                    modifier,
                    tests: Box::new([]),
                    set,
                });
            }
            if !self.charge_patterns(operator, Some(modifier), values.len(), span, problems) {
                return None;
            }
            let tests: Option<Vec<StrTest>> = values
                .iter()
                .map(|item| self.single_string_test(operator, item, problems))
                .collect();
            return Some(StrTest::Modified {
                modifier,
                tests: tests?.into_boxed_slice(),
                set,
            });
        }
        if operator == Operator::Regex && !self.charge_patterns(operator, None, 1, span, problems) {
            return None;
        }
        match operator {
            Operator::In | Operator::Intersects => Some(StrTest::In(ByteSet::new(
                values.iter().map(|item| item.value.clone()),
            ))),
            Operator::PMatch => Some(StrTest::PMatch(PathPrefixSet::new(
                values.iter().map(|item| item.value.as_slice()),
            ))),
            _ => match values {
                [item] => self.single_string_test(operator, item, problems),
                _ => None,
            },
        }
    }

    fn number_test(
        &self,
        operator: Operator,
        field_type: FieldType,
        built: &BuiltOperand,
        values: &[&ListItem],
        problems: &mut Problems,
    ) -> Option<NumTest> {
        let mut numbers = Vec::with_capacity(values.len());
        for item in values {
            let text = text_of(&item.value);
            let parsed = if field_type == FieldType::Bool {
                match text.as_str() {
                    "true" => Some(1),
                    "false" => Some(0),
                    _ => None,
                }
            } else {
                parse_integer(&text)
            };
            match parsed {
                Some(number) => numbers.push(number),
                None => {
                    let expected = if field_type == FieldType::Bool {
                        "use true or false".to_string()
                    } else {
                        "use an integer such as 0 or 1000 (or 0x1f)".to_string()
                    };
                    problems.errors.push(Diagnostic::error(
                        self.position(item.span),
                        format!(
                            "`{text}` is not a valid {} value for field `{}` ({}); {expected}",
                            if field_type == FieldType::Bool {
                                "boolean"
                            } else {
                                "number"
                            },
                            built.extractor.field.name(),
                            field_type
                        ),
                    ));
                    return None;
                }
            }
        }
        let op = match operator {
            Operator::In | Operator::Intersects => {
                return Some(NumTest::In(numbers.into_boxed_slice()))
            }
            Operator::Eq => NumOp::Eq,
            Operator::Ne => NumOp::Ne,
            Operator::Lt => NumOp::Lt,
            Operator::Le => NumOp::Le,
            Operator::Gt => NumOp::Gt,
            Operator::Ge => NumOp::Ge,
            _ => return None,
        };
        numbers.first().map(|bound| NumTest::Compare(op, *bound))
    }

    /// Parses the constants of a check on an `ipaddr` or `ipnet` field: addresses for the
    /// first, networks (or single addresses) for the second.
    fn ip_test(
        &self,
        operator: Operator,
        built: &BuiltOperand,
        values: &[&ListItem],
        problems: &mut Problems,
    ) -> Option<IpTest> {
        let negated = match operator {
            Operator::Eq | Operator::In | Operator::Intersects => false,
            Operator::Ne => true,
            _ => return None,
        };
        let mut constants = Vec::with_capacity(values.len());
        for item in values {
            match self.ip_constant(built, item) {
                Ok(constant) => constants.push(constant),
                Err(message) => {
                    problems
                        .errors
                        .push(Diagnostic::error(self.position(item.span), message));
                    return None;
                }
            }
        }
        Some(IpTest::new(constants, negated))
    }

    /// One constant of an IP check, or the error naming the value, the field and what to
    /// write instead.
    fn ip_constant(&self, built: &BuiltOperand, item: &ListItem) -> Result<IpNetwork, String> {
        let text = text_of(&item.value);
        let field = built.extractor.field.name();
        let field_type = built.field_type;
        if field_type == FieldType::IpNet {
            return IpNetwork::parse(&text).map_err(|error| {
                format!("`{text}` is not a valid network for field `{field}` ({field_type}): {error}; use a network such as 10.0.0.0/8 or fd00::/8, or a single address")
            });
        }
        match parse_ip_address(&text) {
            Ok(address) => Ok(IpNetwork::host(address)),
            // Falco refuses it too ("unrecognized IPv4 address 10.0.0.0/8"): an `ipaddr`
            // field is compared for equality, and networks belong to the `ipnet` fields.
            Err(IpParseError::NetworkNotAddress) => Err(format!(
                "`{text}` is a network, but field `{field}` ({field_type}) is compared with single addresses, as in Falco; {}",
                self.network_field_hint(field)
            )),
            Err(error) => Err(format!(
                "`{text}` is not a valid IP address for field `{field}` ({field_type}): {error}; use an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1"
            )),
        }
    }

    /// What to use to test network membership instead of an `ipaddr` field: Falco pairs each
    /// (`fd.sip`) with an `ipnet` field (`fd.snet`).
    fn network_field_hint(&self, field: &str) -> String {
        let paired = field
            .strip_suffix("ip")
            .map(|stem| format!("{stem}net"))
            .filter(
                |name| match self.registry.resolve_without_hints(name, None) {
                    Resolution::Supplied { def, .. } => def.field_type == FieldType::IpNet,
                    Resolution::NotSupplied { .. } => true,
                    Resolution::Unknown { .. } | Resolution::BadArgument { .. } => false,
                },
            );
        match paired {
            Some(name) => {
                format!("to test membership in a network use `{name}`, e.g. `{name} = 10.0.0.0/8`")
            }
            None => {
                "to test membership in a network use an ipnet field (`fd.snet`, `fd.rnet`, ...)"
                    .to_string()
            }
        }
    }

    fn build_field_comparison(
        &self,
        left: BuiltOperand,
        operator: Operator,
        right: &Operand,
        span: Span,
        problems: &mut Problems,
    ) -> Node {
        let position = self.position(span);
        if matches!(operator, Operator::PMatch | Operator::Regex) {
            problems.errors.push(Diagnostic::error(position, format!("operator '{operator}' doesn't support right-hand side fields; compare with constants")));
            return Node::Const(false);
        }
        if left.no_field_comparison {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "field '{}' doesn't support right-hand side fields",
                    left.extractor.field.name()
                ),
            ));
            return Node::Const(false);
        }
        let Some(right) = self.operands.build(right, problems) else {
            return Node::Const(false);
        };
        if right.no_field_comparison {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "field '{}' can't be used as a right-hand side field",
                    right.extractor.field.name()
                ),
            ));
            return Node::Const(false);
        }
        let left_list = left.shape != Shape::Scalar;
        let right_list = right.shape != Shape::Scalar;
        if left.field_type != right.field_type || left_list != right_list {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "field '{}' has type '{}{}' while the right-hand side field '{}' has incompatible type '{}{}'",
                    left.extractor.field.name(),
                    left.field_type,
                    if left_list { " (list)" } else { "" },
                    right.extractor.field.name(),
                    right.field_type,
                    if right_list { " (list)" } else { "" },
                ),
            ));
            return Node::Const(false);
        }
        Node::Check(Box::new(Check {
            left: left.extractor,
            test: Test::Field(Box::new(FieldTest {
                operator,
                right: right.extractor,
            })),
            list_mode: ListMode::Any,
        }))
    }
}
