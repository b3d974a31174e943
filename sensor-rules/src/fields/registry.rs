//! The field registry: resolves a field as written in a rule to a field the sensor supplies,
//! or says why it cannot (known to Falco but not supplied here, or not a field at all).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use super::falco_event_arguments::FALCO_EVENT_ARGUMENTS;
use super::falco_fields::{FALCO_FIELDS, FALCO_FIELD_PREFIXES};
use super::field_def::{ArgSpec, FieldDef, FieldId, FieldType, Shape};
use super::sensor_fields::{builtin_fields, BUILTIN_FIELD_COUNT, SENSOR_EVENT_ARGUMENTS};
use crate::event::{FieldArg, FieldRef};

/// The outcome of resolving a field name.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution<'r> {
    Supplied {
        def: &'r FieldDef,
        field: FieldRef,
    },
    /// A Falco field the sensor does not supply (rules using it are skipped, not wrong).
    NotSupplied {
        name: String,
    },
    /// Not a field at all: a typo or a field of another tool.
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    /// The field exists but its argument is missing or malformed.
    BadArgument {
        name: String,
        message: String,
    },
}

/// Fields the sensor supplies plus the names of every other Falco field.
///
/// Start from [`FieldRegistry::sensor_default`]; a sensor that supplies more (or fewer)
/// fields adds them with [`FieldRegistry::add_field`] or drops them with
/// [`FieldRegistry::remove_field`] before compiling rules.
#[derive(Clone, Debug)]
pub struct FieldRegistry {
    defs: Vec<Option<FieldDef>>,
    by_name: HashMap<String, FieldId>,
    /// Argument names `evt.arg.NAME` accepts: Falco's, plus any the sensor adds.
    event_arguments: BTreeSet<String>,
}

static SHARED_DEFAULT: LazyLock<Arc<FieldRegistry>> =
    LazyLock::new(|| Arc::new(FieldRegistry::sensor_default()));

impl Default for FieldRegistry {
    fn default() -> Self {
        FieldRegistry::sensor_default()
    }
}

impl FieldRegistry {
    /// The fields listed in [`FieldId`]'s constants.
    pub fn sensor_default() -> Self {
        let mut registry = FieldRegistry {
            defs: Vec::new(),
            by_name: HashMap::new(),
            event_arguments: FALCO_EVENT_ARGUMENTS
                .iter()
                .chain(SENSOR_EVENT_ARGUMENTS)
                .map(|name| name.to_string())
                .collect(),
        };
        for def in builtin_fields() {
            registry.by_name.insert(def.name.to_string(), def.id);
            registry.defs.push(Some(def));
        }
        debug_assert_eq!(registry.defs.len(), usize::from(BUILTIN_FIELD_COUNT));
        registry
    }

    /// A shared copy of [`FieldRegistry::sensor_default`].
    pub fn shared_default() -> Arc<FieldRegistry> {
        SHARED_DEFAULT.clone()
    }

    /// Adds a field (or redefines one of the same name, keeping its id) and returns its id.
    pub fn add_field(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        field_type: FieldType,
        arg: ArgSpec,
        shape: Shape,
        description: impl Into<Cow<'static, str>>,
    ) -> FieldId {
        let name = name.into();
        let id = match self.by_name.get(name.as_ref()) {
            Some(id) => *id,
            None => FieldId(u16::try_from(self.defs.len()).unwrap_or(u16::MAX)),
        };
        let def = FieldDef {
            id,
            name: name.clone(),
            field_type,
            arg,
            shape,
            description: description.into(),
        };
        let index = usize::from(id.0);
        if index < self.defs.len() {
            self.defs[index] = Some(def);
        } else {
            self.defs.push(Some(def));
        }
        self.by_name.insert(name.into_owned(), id);
        id
    }

    /// Accepts `evt.arg.NAME` for an argument name Falco does not have (for syscalls Falco
    /// reports as generic events, such as `move_mount`).
    pub fn add_event_argument(&mut self, name: impl Into<String>) {
        self.event_arguments.insert(name.into());
    }

    pub fn is_event_argument(&self, name: &str) -> bool {
        self.event_arguments.contains(name)
    }

    /// Stops supplying a field: rules using it will be skipped as "not supplied".
    pub fn remove_field(&mut self, name: &str) -> bool {
        match self.by_name.remove(name) {
            Some(id) => {
                if let Some(slot) = self.defs.get_mut(usize::from(id.0)) {
                    *slot = None;
                }
                true
            }
            None => false,
        }
    }

    pub fn get(&self, id: FieldId) -> Option<&FieldDef> {
        self.defs.get(usize::from(id.0)).and_then(Option::as_ref)
    }

    pub fn by_name(&self, name: &str) -> Option<&FieldDef> {
        self.by_name.get(name).and_then(|id| self.get(*id))
    }

    /// Every supplied field, in id order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.defs.iter().flatten()
    }

    /// True if Falco knows `name` as a field of the `syscall` source (supplied here or not).
    pub fn is_falco_field(name: &str) -> bool {
        if FALCO_FIELDS.binary_search(&name).is_ok()
            || FALCO_FIELD_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            return true;
        }
        // Dotted arguments: `evt.rawarg.size`, `container.label.foo`, ...
        name.char_indices()
            .filter(|(_, c)| *c == '.')
            .any(|(index, _)| FALCO_FIELDS.binary_search(&&name[..index]).is_ok())
    }

    /// Resolves `name` with its bracketed argument, if any, as written in a rule.
    pub fn resolve(&self, name: &str, arg: Option<&str>) -> Resolution<'_> {
        self.resolve_with(name, arg, true)
    }

    /// [`Self::resolve`] without the "did you mean" search (an unknown name's `suggestion` is
    /// `None`, a bad event argument's message has no hint), for callers that only ask what
    /// kind of name it is. The search measures the name against every field name: an output
    /// format retries up to 64 prefixes of an unknown token, and searching for each made the
    /// output_template fuzz target run 30 formats a second.
    pub fn resolve_without_hints(&self, name: &str, arg: Option<&str>) -> Resolution<'_> {
        self.resolve_with(name, arg, false)
    }

    fn resolve_with(&self, name: &str, arg: Option<&str>, hints: bool) -> Resolution<'_> {
        if let Some(def) = self.by_name(name) {
            return self.with_argument(def, name, arg, hints);
        }
        // A key written after a dot: the longest supplied prefix that takes dotted keys.
        let dotted = name
            .char_indices()
            .rev()
            .filter(|(_, c)| *c == '.')
            .find_map(|(index, _)| {
                let def = self.by_name(&name[..index])?;
                def.arg.dotted().then_some((def, &name[index + 1..]))
            });
        if let Some((def, key)) = dotted {
            if arg.is_some() {
                return Resolution::BadArgument {
                    name: name.to_string(),
                    message: format!(
                        "field `{}` takes one argument: write `{}[{}]` or `{}`, not both",
                        def.name, def.name, key, name
                    ),
                };
            }
            return self.with_argument(def, &def.name, Some(key), hints);
        }
        if Self::is_falco_field(name) {
            return Resolution::NotSupplied {
                name: name.to_string(),
            };
        }
        Resolution::Unknown {
            name: name.to_string(),
            suggestion: if hints { self.suggest(name) } else { None },
        }
    }

    fn with_argument<'r>(
        &'r self,
        def: &'r FieldDef,
        name: &str,
        arg: Option<&str>,
        hints: bool,
    ) -> Resolution<'r> {
        let bad = |message: String| Resolution::BadArgument {
            name: name.to_string(),
            message,
        };
        let field_arg = match (def.arg, arg) {
            (ArgSpec::NoArg, None) => FieldArg::None,
            (ArgSpec::NoArg, Some(arg)) => {
                return bad(format!(
                    "field `{}` does not take an argument; remove `[{}]`",
                    def.name, arg
                ))
            }
            (spec, None) if spec.required() => {
                return bad(format!(
                    "field `{}` needs an argument, e.g. {}",
                    def.name,
                    example_argument(def)
                ))
            }
            (_, None) => FieldArg::None,
            (ArgSpec::Index { .. }, Some(arg)) => match arg.trim().parse::<u32>() {
                Ok(index) => FieldArg::Index(index),
                Err(_) => {
                    return bad(format!(
                    "the argument of `{}` must be a non-negative number (as in `{}[1]`), not `{}`",
                    def.name, def.name, arg
                ))
                }
            },
            (ArgSpec::Key { .. }, Some(arg)) => FieldArg::Key(arg.into()),
            (ArgSpec::IndexOrKey { .. }, Some(arg)) => match arg.parse::<u32>() {
                Ok(index) => FieldArg::Index(index),
                Err(_) if def.id == FieldId::EVT_ARG && !self.is_event_argument(arg) => {
                    let hint = hints
                        .then(|| closest(arg, self.event_arguments.iter().map(String::as_str)))
                        .flatten()
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return bad(format!(
                        "unknown event argument `{arg}` in `{name}`: Falco's argument names are used, e.g. filename, mode, uid{hint}"
                    ));
                }
                Err(_) => FieldArg::Key(arg.into()),
            },
        };
        let display = match &field_arg {
            FieldArg::None => def.name.to_string(),
            FieldArg::Index(index) => format!("{}[{}]", def.name, index),
            FieldArg::Key(key) if def.arg.dotted() => format!("{}.{}", def.name, key),
            FieldArg::Key(key) => format!("{}[{}]", def.name, key),
        };
        Resolution::Supplied {
            def,
            field: FieldRef::new(def.id, field_arg, display),
        }
    }

    /// The closest supplied or Falco field name, for "did you mean" hints.
    fn suggest(&self, name: &str) -> Option<String> {
        let candidates = self
            .by_name
            .keys()
            .map(String::as_str)
            .chain(FALCO_FIELDS.iter().copied());
        closest(name, candidates)
    }
}

/// The candidate at edit distance 2 or less from `name`, the closest first.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    // Decoded once: a rules file may hold a name of megabytes, and there are a thousand
    // candidates.
    let name: Vec<char> = name.chars().collect();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&name, candidate);
        if distance <= 2 && best.is_none_or(|(d, c)| (distance, candidate) < (d, c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate.to_string())
}

fn example_argument(def: &FieldDef) -> String {
    match def.arg {
        ArgSpec::IndexOrKey { .. } => format!("`{0}.mode` or `{0}[0]`", def.name),
        ArgSpec::Key { dotted: true, .. } => format!("`{0}[app]` or `{0}.app`", def.name),
        ArgSpec::Key { .. } => format!("`{}[key]`", def.name),
        _ => format!("`{}[1]`", def.name),
    }
}

/// Levenshtein distance, or `usize::MAX` when the lengths alone put it above 2.
fn edit_distance(a: &[char], b: &str) -> usize {
    if a.len().abs_diff(b.chars().count()) > 2 {
        return usize::MAX;
    }
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> FieldRegistry {
        FieldRegistry::sensor_default()
    }

    /// The quiet form resolves every name to the same kind, only without hints.
    #[test]
    fn resolving_without_hints_differs_only_in_hints() {
        let registry = registry();
        for (name, arg) in [
            ("fd.nmae", None),
            ("proc.name", None),
            ("proc.aname", Some("2")),
            ("proc.aname", Some("x")),
            ("evt.arg.mdoe", None),
            ("evt.arg.mode", None),
            ("container.mount.dest", Some("/")),
            ("nothing.like.a.field", None),
        ] {
            let loud = registry.resolve(name, arg);
            let quiet = registry.resolve_without_hints(name, arg);
            match (&loud, &quiet) {
                (
                    Resolution::Unknown { name: a, .. },
                    Resolution::Unknown {
                        name: b,
                        suggestion: None,
                    },
                ) => assert_eq!(a, b),
                (
                    Resolution::BadArgument { name: a, message },
                    Resolution::BadArgument {
                        name: b,
                        message: m,
                    },
                ) => {
                    assert_eq!(a, b);
                    assert!(message.starts_with(m.as_str()), "{message} / {m}");
                    assert!(!m.contains("did you mean"), "{m}");
                }
                _ => assert_eq!(loud, quiet, "{name}"),
            }
        }
        assert!(matches!(
            registry.resolve("fd.nmae", None),
            Resolution::Unknown {
                suggestion: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn resolves_supplied_fields_and_arguments() {
        let registry = registry();
        match registry.resolve("proc.aname", Some("2")) {
            Resolution::Supplied { field, .. } => {
                assert_eq!(field.id, FieldId::PROC_ANAME);
                assert_eq!(field.arg, FieldArg::Index(2));
            }
            other => panic!("{other:?}"),
        }
        match registry.resolve("evt.arg.mode", None) {
            Resolution::Supplied { field, .. } => {
                assert_eq!(field.id, FieldId::EVT_ARG);
                assert_eq!(field.arg, FieldArg::Key("mode".into()));
                assert_eq!(field.name(), "evt.arg.mode");
            }
            other => panic!("{other:?}"),
        }
        match registry.resolve("k8s.pod.label.app", None) {
            Resolution::Supplied { field, .. } => {
                assert_eq!(field.arg, FieldArg::Key("app".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tells_unsupplied_from_unknown() {
        let registry = registry();
        assert!(matches!(
            registry.resolve("fd.name", None),
            Resolution::NotSupplied { .. }
        ));
        assert!(matches!(
            registry.resolve("container.mount.dest", Some("/")),
            Resolution::NotSupplied { .. }
        ));
        match registry.resolve("fd.nmae", None) {
            Resolution::Unknown { suggestion, .. } => {
                assert_eq!(suggestion.as_deref(), Some("fd.name"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn checks_arguments() {
        let registry = registry();
        assert!(matches!(
            registry.resolve("proc.name", Some("1")),
            Resolution::BadArgument { .. }
        ));
        assert!(matches!(
            registry.resolve("proc.aname", Some("x")),
            Resolution::BadArgument { .. }
        ));
        assert!(matches!(
            registry.resolve("evt.arg", None),
            Resolution::BadArgument { .. }
        ));
    }

    #[test]
    fn can_be_extended() {
        let mut registry = registry();
        let id = registry.add_field(
            "proc.sname",
            FieldType::String,
            ArgSpec::NoArg,
            Shape::Scalar,
            "session leader name",
        );
        assert!(id.0 >= BUILTIN_FIELD_COUNT);
        assert!(matches!(
            registry.resolve("proc.sname", None),
            Resolution::Supplied { .. }
        ));
        assert!(registry.remove_field("proc.sname"));
        assert!(matches!(
            registry.resolve("proc.sname", None),
            Resolution::NotSupplied { .. }
        ));
    }
}
