//! Resource limits on rules files and on what they expand to.
//!
//! The sensor runs as root on every node and loads rules files that may come from a
//! ConfigMap, so a rules file is hostile input: a few kilobytes of macros that each use the
//! previous one twice, lists that include the previous list twice, or a YAML alias bomb
//! ("billion laughs") expand to billions of nodes. Every limit below is checked *before*
//! the memory is spent (sizes are computed bottom-up from the definitions, YAML aliases are
//! charged when they are met), and exceeding one is an error at `file:line:col` that names
//! the item and the limit.
//!
//! The values are far above what real rules need. Falco's own files at commit c72713ee
//! (stable, incubating and sandbox, loaded together; see `tests/conformance.rs`) need at
//! most: 95 KB and 2,447 YAML nodes per file, 782 nodes and list items in one expanded
//! condition, 5,403 in all 93 rules, macros nested 4 deep, lists nested 2 deep, expanded
//! conditions 7 levels deep and no output field width.

/// Largest rules file read, in bytes: Falco's largest is 95 KB (88 times less). A bigger file
/// is refused before it is parsed (a ConfigMap holds at most 1 MiB anyway).
pub const MAX_RULES_FILE_BYTES: usize = 8 << 20;

/// Most YAML nodes (scalars, sequences, mappings) one rules file may build, each alias
/// counting the nodes it copies: Falco's largest file has 2,447 (200 times less). Bounds
/// the memory of a file of tiny items and of an alias bomb alike.
pub const MAX_YAML_NODES: usize = 500_000;

/// Most bytes of scalar text aliases may copy in one rules file: an alias of a long string
/// copies it, so a node count alone would let a thousand aliases of a megabyte string
/// through. As much text as the largest file may hold.
pub const MAX_YAML_ALIAS_BYTES: usize = MAX_RULES_FILE_BYTES;

/// Deepest YAML nesting built: rules files are four or five levels deep; deeper input must
/// not exhaust the stack of the code that walks or drops the tree.
pub const MAX_YAML_DEPTH: usize = 256;

/// Maximum recursion depth of the condition parser (each parenthesis level costs about
/// five). Falco's loader allows 1000; 400 (some 80 nested parentheses) keeps a 2 MiB thread
/// stack safe in debug builds.
pub const MAX_CONDITION_DEPTH: u32 = 400;
