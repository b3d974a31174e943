//! Falco's fields.
