//! Reading one field of an event, including fields the engine derives (time strings,
//! `evt.res` from `evt.rawres`, ...) and transformers (`tolower`, `b64`, `len`, ...).

use std::borrow::Cow;

use base64::Engine as _;

use super::value::Val;
use crate::event::{Event, FieldRef};
use crate::falco_format::errno_name;
use crate::fields::FieldType;
use crate::output::time_format;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    TimeOfDayNanos,
    TimeOfDay,
    Iso8601,
    DateTime,
}

/// Where a field's value comes from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Event,
    EventType,
    Constant(&'static [u8]),
    /// `evt.res`: from the event, else `SUCCESS` or the errno name of `evt.rawres`.
    ResultName(FieldRef),
    /// `evt.failed`: from the event, else `evt.rawres < 0`.
    Failed(FieldRef),
    Time(TimeFormat, FieldRef),
    /// From the event, else the first of these fields that is present.
    WithFallback(Box<[FieldRef]>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transformer {
    ToLower,
    ToUpper,
    Base64,
    Basename,
    Len,
}

impl Transformer {
    pub fn parse(name: &str) -> Option<Transformer> {
        Some(match name {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::Base64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            _ => return None,
        })
    }

    /// The type after transforming a value of `input` type, if the transformer applies.
    pub fn output_type(self, input: FieldType, is_list: bool) -> Option<FieldType> {
        match self {
            Transformer::Len if is_list => Some(FieldType::Uint64),
            Transformer::Len => {
                matches!(input, FieldType::String | FieldType::Bytes).then_some(FieldType::Uint64)
            }
            Transformer::Base64 => {
                matches!(input, FieldType::String | FieldType::Bytes).then_some(input)
            }
            _ => (input == FieldType::String).then_some(input),
        }
    }

    fn apply_bytes<'a>(self, bytes: Cow<'a, [u8]>) -> Option<Val<'a>> {
        Some(match self {
            Transformer::ToLower => Val::Str(Cow::Owned(bytes.to_ascii_lowercase())),
            Transformer::ToUpper => Val::Str(Cow::Owned(bytes.to_ascii_uppercase())),
            Transformer::Basename => {
                let start = bytes.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
                match bytes {
                    Cow::Borrowed(b) => Val::Str(Cow::Borrowed(&b[start..])),
                    Cow::Owned(b) => Val::Str(Cow::Owned(b[start..].to_vec())),
                }
            }
            Transformer::Base64 => {
                let engine = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
                );
                Val::Str(Cow::Owned(engine.decode(bytes.as_ref()).ok()?))
            }
            // Falco measures strings up to the first NUL, as C strings.
            Transformer::Len => {
                Val::U64(bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len()) as u64)
            }
        })
    }

    fn apply<'a>(self, value: Val<'a>) -> Option<Val<'a>> {
        match value {
            Val::Str(bytes) => self.apply_bytes(bytes),
            list @ (Val::List(_) | Val::OwnedList(_)) => {
                let items = list.elements();
                if self == Transformer::Len {
                    return Some(Val::U64(items.len() as u64));
                }
                items
                    .into_iter()
                    .map(|item| self.apply(item))
                    .collect::<Option<Vec<_>>>()
                    .map(Val::OwnedList)
            }
            // Numbers and addresses: no transformer applies to them (rejected at load time).
            other => Some(other),
        }
    }
}

/// Reads one (possibly transformed) field from events.
#[derive(Clone, Debug)]
pub(crate) struct Extractor {
    pub field: FieldRef,
    pub source: Source,
    pub transformers: Box<[Transformer]>,
}

fn as_i64(value: Val<'_>) -> Option<i64> {
    match value {
        Val::I64(v) => Some(v),
        Val::U64(v) => i64::try_from(v).ok(),
        _ => None,
    }
}

fn as_u64(value: Val<'_>) -> Option<u64> {
    match value {
        Val::U64(v) => Some(v),
        Val::I64(v) => u64::try_from(v).ok(),
        _ => None,
    }
}

impl Extractor {
    #[inline]
    pub fn extract<'a, E: Event + ?Sized>(&self, event: &'a E) -> Option<Val<'a>> {
        let value = self.base(event)?;
        if self.transformers.is_empty() {
            return Some(value);
        }
        self.transformers
            .iter()
            .try_fold(value, |value, transformer| transformer.apply(value))
    }

    #[inline]
    fn base<'a, E: Event + ?Sized>(&self, event: &'a E) -> Option<Val<'a>> {
        match &self.source {
            Source::Event => event.field(&self.field).map(Val::from),
            Source::EventType => Some(Val::Str(Cow::Borrowed(event.event_type().as_bytes()))),
            Source::Constant(text) => Some(Val::Str(Cow::Borrowed(text))),
            Source::ResultName(raw) => match event.field(&self.field) {
                Some(value) => Some(Val::from(value)),
                None => {
                    let raw = as_i64(Val::from(event.field(raw)?))?;
                    let name: Cow<'a, [u8]> = if raw >= 0 {
                        Cow::Borrowed(b"SUCCESS")
                    } else {
                        match errno_name(raw.saturating_neg()) {
                            Some(name) => Cow::Borrowed(name.as_bytes()),
                            None => Cow::Owned(raw.to_string().into_bytes()),
                        }
                    };
                    Some(Val::Str(name))
                }
            },
            Source::Failed(raw) => match event.field(&self.field) {
                Some(value) => Some(Val::from(value)),
                None => Some(Val::Bool(as_i64(Val::from(event.field(raw)?))? < 0)),
            },
            Source::Time(format, raw) => {
                let ns = as_u64(Val::from(event.field(raw)?))?;
                let text = match format {
                    TimeFormat::TimeOfDayNanos => time_format::time_of_day_nanos(ns),
                    TimeFormat::TimeOfDay => time_format::time_of_day(ns),
                    TimeFormat::Iso8601 => time_format::rfc3339_nanos(ns),
                    TimeFormat::DateTime => time_format::date_time_nanos(ns),
                };
                Some(Val::Str(Cow::Owned(text.into_bytes())))
            }
            Source::WithFallback(fallbacks) => event
                .field(&self.field)
                .or_else(|| fallbacks.iter().find_map(|field| event.field(field)))
                .map(Val::from),
        }
    }
}
