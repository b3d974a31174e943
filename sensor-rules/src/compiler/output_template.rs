//! Output formats (`%proc.name`, `%(proc.name)`, `%20proc.name`, `%tolower(proc.name)`)
//! compiled once into literal text and field extractors.

use super::extract::{Extractor, Source, TimeFormat};
use super::operand::OperandBuilder;
use super::problems::Problems;
use super::source_map::SourceMap;
use super::value::Val;
use crate::condition::{parse_operand_at, Operand, SourceId};
use crate::diagnostic::Diagnostic;
use crate::event::Event;
use crate::fields::{FieldRegistry, Resolution, Shape};
use crate::limits::MAX_OUTPUT_FIELD_WIDTH;

/// What Falco prints for a field without value.
pub const NOT_AVAILABLE: &str = "<NA>";

#[derive(Clone, Debug)]
pub(crate) enum Token {
    Text(String),
    Field {
        /// The field as written, the key in `output_fields`.
        name: String,
        /// `None` for Falco fields the sensor does not supply: they print `<NA>`.
        extractor: Option<Extractor>,
        shape: Shape,
        /// `%20proc.name`: pad or cut to this width.
        width: usize,
    },
}

#[derive(Clone, Debug, Default)]
pub(crate) struct OutputTemplate {
    tokens: Vec<Token>,
}

/// Longest prefix of an unknown token retried as a field name, in bytes. Falco's longest
/// field name has 39 characters; retrying every prefix of a long token costs the square of
/// its length (a 20 KB token took minutes).
const LONGEST_FIELD_PREFIX: usize = 64;

/// Parses the longest field or transformer starting at `text[start..]` that names a field,
/// as libsinsp's formatter does by retrying shorter prefixes (`%proc.name_x` is `proc.name`
/// followed by `_x`). Returns the operand and where it ends in `text`.
fn longest_operand(
    text: &str,
    start: usize,
    source: SourceId,
    registry: &FieldRegistry,
) -> Option<(Operand, usize)> {
    let known = |operand: &Operand| match operand {
        Operand::Field(field) => !matches!(
            registry.resolve_without_hints(&field.name, field.arg.as_deref()),
            Resolution::Unknown { .. }
        ),
        Operand::Transformer(_) => true,
    };
    let (operand, end) = parse_operand_at(text, start, source).ok()?;
    if known(&operand) {
        return Some((operand, end));
    }
    for cut in (start + 1..end.min(start.saturating_add(LONGEST_FIELD_PREFIX))).rev() {
        let Some(prefix) = text.get(..cut) else {
            continue;
        };
        if let Ok((shorter, shorter_end)) = parse_operand_at(prefix, start, source) {
            if shorter_end == cut && known(&shorter) {
                return Some((shorter, shorter_end));
            }
        }
    }
    // Nothing shorter names a field: keep the whole token so the error names it.
    Some((operand, end))
}

impl OutputTemplate {
    pub fn compile(
        format: &str,
        source: SourceId,
        operands: &OperandBuilder<'_>,
        sources: &SourceMap,
        problems: &mut Problems,
    ) -> OutputTemplate {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let bytes = format.as_bytes();
        // A leading `*` (print even with missing values) is Falco's default; drop it.
        let mut index = usize::from(format.starts_with('*'));
        while index < bytes.len() {
            if bytes[index] != b'%' {
                let next = format[index..]
                    .find('%')
                    .map_or(format.len(), |offset| index + offset);
                literal.push_str(&format[index..next]);
                index = next;
                continue;
            }
            let start = index;
            index += 1;
            let digits = format[index..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let width_text = &format[index..index + digits];
            index += digits;
            let width = match width_text.parse::<usize>() {
                Ok(width) if width <= MAX_OUTPUT_FIELD_WIDTH => width,
                _ if digits == 0 => 0,
                _ => {
                    // Every alert allocates the width: refuse it here, not per alert.
                    problems.errors.push(Diagnostic::error(
                        sources.position_at(source, start),
                        format!(
                            "output field width {width_text} is more than the {MAX_OUTPUT_FIELD_WIDTH} allowed (MAX_OUTPUT_FIELD_WIDTH); use a smaller width such as %20proc.name"
                        ),
                    ));
                    break;
                }
            };
            // `%(field)` delimits the field explicitly.
            let parenthesized = format[index..].starts_with('(');
            let field_start = index + usize::from(parenthesized);
            let parsed = longest_operand(format, field_start, source, operands.registry)
                .filter(|(_, end)| !parenthesized || format[*end..].starts_with(')'));
            let Some((operand, end)) = parsed else {
                problems.errors.push(Diagnostic::error(
                    sources.position_at(source, start),
                    format!(
                        "invalid formatting token `{}`: a % must be followed by a field, such as %proc.name or %(proc.name)",
                        format[start..].chars().take(20).collect::<String>()
                    ),
                ));
                break;
            };
            let name = format[field_start..end].to_string();
            index = end + usize::from(parenthesized);
            if name == "container.info" {
                // Falco drops this legacy token; it expands to nothing.
                problems.warnings.push(Diagnostic::warning(
                    sources.position_at(source, start),
                    "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0; it prints nothing",
                ));
                continue;
            }
            if !literal.is_empty() {
                tokens.push(Token::Text(std::mem::take(&mut literal)));
            }
            let mut scratch = Problems::default();
            let built = operands.build(&operand, &mut scratch);
            problems.errors.append(&mut scratch.errors);
            problems.unknown.append(&mut scratch.unknown);
            for (reason, position) in scratch.unsupported {
                problems.output_warnings.push(Diagnostic::warning(
                    position,
                    format!("output {reason}; it prints {NOT_AVAILABLE}"),
                ));
            }
            let shape = built.as_ref().map_or(Shape::Scalar, |built| built.shape);
            tokens.push(Token::Field {
                name,
                extractor: built.map(|built| built.extractor),
                shape,
                width,
            });
        }
        if !literal.is_empty() {
            tokens.push(Token::Text(literal));
        }
        OutputTemplate { tokens }
    }

    fn render_value(value: &Val<'_>, shape: Shape) -> String {
        match (value, shape) {
            (Val::List(_) | Val::OwnedList(_), Shape::Ancestors) => {
                let items: Vec<String> = match value {
                    Val::List(list) => (0..list.len())
                        .filter_map(|i| list.get(i))
                        .map(|v| Val::from(v).render())
                        .collect(),
                    Val::OwnedList(items) => items.iter().map(Val::render).collect(),
                    _ => Vec::new(),
                };
                items.join(" ")
            }
            _ => value.render(),
        }
    }

    /// The output line for `event`.
    pub fn render<E: Event + ?Sized>(&self, event: &E) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Text(text) => out.push_str(text),
                Token::Field {
                    extractor,
                    shape,
                    width,
                    ..
                } => {
                    let mut text = extractor
                        .as_ref()
                        .and_then(|extractor| extractor.extract(event))
                        .map_or_else(
                            || NOT_AVAILABLE.to_string(),
                            |value| Self::render_value(&value, *shape),
                        );
                    if *width > 0 {
                        let mut chars: Vec<char> = text.chars().take(*width).collect();
                        chars.resize(*width, ' ');
                        text = chars.into_iter().collect();
                    }
                    out.push_str(&text);
                }
            }
        }
        out
    }

    /// Every field of the template with its value (JSON `null` when missing).
    pub fn fields<E: Event + ?Sized>(&self, event: &E) -> Vec<(String, serde_json::Value)> {
        let mut fields: Vec<(String, serde_json::Value)> = Vec::new();
        for token in &self.tokens {
            let Token::Field {
                name,
                extractor,
                shape,
                ..
            } = token
            else {
                continue;
            };
            if fields.iter().any(|(existing, _)| existing == name) {
                continue;
            }
            let value = match extractor {
                // Falco reports evt.time in output_fields as nanoseconds.
                Some(Extractor {
                    source: Source::Time(TimeFormat::TimeOfDayNanos, raw),
                    transformers,
                    ..
                }) if transformers.is_empty() => event
                    .field(raw)
                    .map_or(serde_json::Value::Null, |v| Val::from(v).to_json()),
                Some(extractor) => match extractor.extract(event) {
                    Some(value) if *shape != Shape::Scalar && value.is_list() => {
                        serde_json::Value::String(Self::render_value(&value, *shape))
                    }
                    Some(value) => value.to_json(),
                    None => serde_json::Value::Null,
                },
                None => serde_json::Value::Null,
            };
            fields.push((name.clone(), value));
        }
        fields
    }
}
