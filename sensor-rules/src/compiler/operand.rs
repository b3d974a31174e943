//! Compiles the field side of a check: resolves the field, picks where its value comes
//! from, applies transformers and works out the resulting type.

use super::extract::{Extractor, Source, TimeFormat, Transformer};
use super::problems::Problems;
use super::source_map::SourceMap;
use crate::condition::{FieldExpr, Operand, TransformerArg, TransformerExpr};
use crate::diagnostic::Diagnostic;
use crate::event::{FieldArg, FieldRef};
use crate::fields::{FieldId, FieldRegistry, FieldType, Resolution, Shape};

/// A compiled operand and what checks need to know about it.
#[derive(Clone, Debug)]
pub(crate) struct BuiltOperand {
    pub extractor: Extractor,
    pub field_type: FieldType,
    pub shape: Shape,
    /// `evt.type` or `syscall.type` without transformer.
    pub is_event_type: bool,
    /// Ancestor fields cannot be compared with other fields (Falco's EPF_NO_RHS).
    pub no_field_comparison: bool,
    pub transformed: bool,
}

pub(crate) struct OperandBuilder<'a> {
    pub registry: &'a FieldRegistry,
    pub sources: &'a SourceMap,
}

fn plain(id: FieldId, name: &str) -> FieldRef {
    FieldRef::new(id, FieldArg::None, name)
}

/// Where the engine finds a built-in field's value when the event does not hand it over.
fn source_for(field: &FieldRef) -> Source {
    let ancestor_fallback = |own: (FieldId, &str), parent: (FieldId, &str)| match field.index() {
        Some(0) => Source::WithFallback(Box::new([plain(own.0, own.1)])),
        Some(1) => Source::WithFallback(Box::new([plain(parent.0, parent.1)])),
        _ => Source::Event,
    };
    match field.id {
        FieldId::EVT_TYPE | FieldId::SYSCALL_TYPE => Source::EventType,
        FieldId::EVT_DIR => Source::Constant(b"<"),
        FieldId::EVT_SOURCE => Source::Constant(b"syscall"),
        FieldId::EVT_RES => Source::ResultName(plain(FieldId::EVT_RAWRES, "evt.rawres")),
        FieldId::EVT_FAILED => Source::Failed(plain(FieldId::EVT_RAWRES, "evt.rawres")),
        FieldId::EVT_TIME => Source::Time(
            TimeFormat::TimeOfDayNanos,
            plain(FieldId::EVT_RAWTIME, "evt.rawtime"),
        ),
        FieldId::EVT_TIME_S => Source::Time(
            TimeFormat::TimeOfDay,
            plain(FieldId::EVT_RAWTIME, "evt.rawtime"),
        ),
        FieldId::EVT_TIME_ISO8601 => Source::Time(
            TimeFormat::Iso8601,
            plain(FieldId::EVT_RAWTIME, "evt.rawtime"),
        ),
        FieldId::EVT_DATETIME => Source::Time(
            TimeFormat::DateTime,
            plain(FieldId::EVT_RAWTIME, "evt.rawtime"),
        ),
        FieldId::THREAD_TID => {
            Source::WithFallback(Box::new([plain(FieldId::PROC_TID, "proc.tid")]))
        }
        FieldId::PROC_TID => {
            Source::WithFallback(Box::new([plain(FieldId::THREAD_TID, "thread.tid")]))
        }
        FieldId::PROC_ANAME => ancestor_fallback(
            (FieldId::PROC_NAME, "proc.name"),
            (FieldId::PROC_PNAME, "proc.pname"),
        ),
        FieldId::PROC_APID => ancestor_fallback(
            (FieldId::PROC_PID, "proc.pid"),
            (FieldId::PROC_PPID, "proc.ppid"),
        ),
        FieldId::PROC_AEXE => ancestor_fallback(
            (FieldId::PROC_EXE, "proc.exe"),
            (FieldId::PROC_PEXE, "proc.pexe"),
        ),
        FieldId::PROC_AEXEPATH => ancestor_fallback(
            (FieldId::PROC_EXEPATH, "proc.exepath"),
            (FieldId::PROC_PEXEPATH, "proc.pexepath"),
        ),
        FieldId::PROC_ACMDLINE => ancestor_fallback(
            (FieldId::PROC_CMDLINE, "proc.cmdline"),
            (FieldId::PROC_PCMDLINE, "proc.pcmdline"),
        ),
        _ => Source::Event,
    }
}

impl OperandBuilder<'_> {
    pub fn build(&self, operand: &Operand, problems: &mut Problems) -> Option<BuiltOperand> {
        match operand {
            Operand::Field(field) => self.build_field(field, problems),
            Operand::Transformer(transformer) => self.build_transformer(transformer, problems),
        }
    }

    /// Resolves a field against the registry (also used by output templates).
    pub fn resolve_field(
        &self,
        field: &FieldExpr,
        problems: &mut Problems,
    ) -> Option<(FieldRef, FieldType, Shape)> {
        let position = self.sources.position(field.span);
        match self.registry.resolve(&field.name, field.arg.as_deref()) {
            Resolution::Supplied {
                def,
                field: resolved,
            } => {
                let shape = match (def.shape, &resolved.arg) {
                    (Shape::Ancestors, FieldArg::Index(_)) => Shape::Scalar,
                    (shape, _) => shape,
                };
                Some((resolved, def.field_type, shape))
            }
            Resolution::NotSupplied { name } => {
                problems.unsupported(
                    format!("field `{name}` is not supplied by this sensor"),
                    position,
                );
                None
            }
            Resolution::Unknown { name, suggestion } => {
                let hint = match suggestion {
                    Some(suggestion) => format!("; did you mean `{suggestion}`?"),
                    None => "; check the spelling against Falco's field list".to_string(),
                };
                problems.unknown.push(Diagnostic::error(
                    position,
                    format!("unknown field `{name}`: Falco has no such field (\"filter_check called with nonexistent field\"){hint}"),
                ));
                None
            }
            Resolution::BadArgument { message, .. } => {
                problems.errors.push(Diagnostic::error(position, message));
                None
            }
        }
    }

    fn build_field(&self, field: &FieldExpr, problems: &mut Problems) -> Option<BuiltOperand> {
        let (resolved, field_type, shape) = self.resolve_field(field, problems)?;
        let is_event_type = matches!(resolved.id, FieldId::EVT_TYPE | FieldId::SYSCALL_TYPE);
        let no_field_comparison = matches!(
            resolved.id,
            FieldId::PROC_ANAME
                | FieldId::PROC_APID
                | FieldId::PROC_AEXE
                | FieldId::PROC_AEXEPATH
                | FieldId::PROC_ACMDLINE
        );
        Some(BuiltOperand {
            extractor: Extractor {
                source: source_for(&resolved),
                field: resolved,
                transformers: Box::new([]),
            },
            field_type,
            shape,
            is_event_type,
            no_field_comparison,
            transformed: false,
        })
    }

    fn build_transformer(
        &self,
        transformer: &TransformerExpr,
        problems: &mut Problems,
    ) -> Option<BuiltOperand> {
        let position = self.sources.position(transformer.span);
        if transformer.name == "val" {
            // `val(field)` is the field itself, used on the right side of a comparison.
            return match transformer.args.as_slice() {
                [TransformerArg::Operand(Operand::Field(field))] if transformer.arg.is_none() => {
                    self.build_field(field, problems)
                }
                _ => {
                    problems.errors.push(Diagnostic::error(
                        position,
                        "'val' takes exactly one field, as in `val(proc.pname)`",
                    ));
                    None
                }
            };
        }
        let Some(kind) = Transformer::parse(&transformer.name) else {
            problems.unsupported(
                format!("transformer `{}` is not supported by this sensor (supported: tolower, toupper, b64, basename, len, val)", transformer.name),
                position,
            );
            return None;
        };
        let inner = match transformer.args.as_slice() {
            [TransformerArg::Operand(inner)] if transformer.arg.is_none() => inner,
            _ => {
                problems.errors.push(Diagnostic::error(
                    position,
                    format!("transformer '{}' takes exactly one field or transformer, as in `{}(proc.name)`", transformer.name, transformer.name),
                ));
                return None;
            }
        };
        let mut built = self.build(inner, problems)?;
        if built.no_field_comparison && !built.transformed {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "field '{}' does not support transformers",
                    built.extractor.field.name()
                ),
            ));
            return None;
        }
        let is_list = built.shape != Shape::Scalar;
        let Some(output) = kind.output_type(built.field_type, is_list) else {
            problems.errors.push(Diagnostic::error(
                position,
                format!(
                    "can't add field transformer: type '{}' is not supported by '{}' transformer applied on {}field '{}'",
                    built.field_type,
                    transformer.name,
                    if is_list { "list " } else { "" },
                    built.extractor.field.name()
                ),
            ));
            return None;
        };
        let mut transformers = built.extractor.transformers.to_vec();
        transformers.push(kind);
        built.extractor.transformers = transformers.into_boxed_slice();
        built.field_type = output;
        if kind == Transformer::Len {
            built.shape = Shape::Scalar;
        }
        built.is_event_type = false;
        built.transformed = true;
        Some(built)
    }
}
