//! The log filter (`log.level`, `--log-level`, `SENSOR_LOG`) in tracing's env-filter syntax.

use tracing_subscriber::EnvFilter;

/// Parses `text` as an env filter; `None` if it is not one. Filters are ASCII (targets,
/// levels, span and field names): anything else is refused here, because tracing-subscriber's
/// directive parser slices the text by byte and panics inside a multi-byte character (found
/// by the config_file fuzz target).
pub fn parse(text: &str) -> Option<EnvFilter> {
    if !text.is_ascii() {
        return None;
    }
    EnvFilter::try_new(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_targets_parse() {
        assert!(parse("info").is_some());
        assert!(parse("sensor=debug,aya=warn").is_some());
    }

    #[test]
    fn non_ascii_is_refused_without_a_panic() {
        assert!(parse("info g env-fled:\u{fffd} true").is_none());
        assert!(parse("sensor[span{field=\"\u{e9}\u{e9}\"}]=debug").is_none());
    }
}
