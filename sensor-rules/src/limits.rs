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
//! most: 95 KB, 2,447 YAML nodes and 4 levels of nesting per file, 782 nodes and list
//! items in one expanded condition, 5,403 in all 93 rules, macros nested 4 deep, lists
//! nested 2 deep, expanded conditions 9 levels deep (macro references counted), and no
//! output field width, no modifier (`oneof`, `anyof`, `allof`) and no regular expression.

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

/// Deepest YAML nesting built: Falco's files are 4 levels deep; deeper input must not
/// exhaust the stack of the code that walks or drops the tree.
pub const MAX_YAML_DEPTH: usize = 256;

/// Maximum recursion depth of the condition parser (each parenthesis level costs about
/// five). Falco's loader allows 1000; 400 (some 80 nested parentheses) keeps a 2 MiB thread
/// stack safe in debug builds: parsing at the limit needs 1 to 1.25 MiB there (measured).
pub const MAX_CONDITION_DEPTH: u32 = 400;

/// Most condition nodes plus list items one rule condition (with its exceptions) or one
/// macro may expand to once macros and lists are substituted: Falco's largest needs 782
/// (128 times less). One expanded condition at the limit takes some tens of megabytes.
pub const MAX_EXPANDED_SIZE: u64 = 100_000;

/// Most condition nodes plus list items all the rules of one load may expand to together:
/// Falco's three files need 5,403 (92 times less). Bounds the compiled ruleset's memory
/// and the load time when many rules each stay under [`MAX_EXPANDED_SIZE`].
pub const MAX_TOTAL_EXPANDED_SIZE: u64 = 500_000;

/// Longest chain of macros using macros (a rule using `a` whose condition uses `b` is 2):
/// Falco's files need 4 (10 times less).
pub const MAX_MACRO_NESTING: u32 = 40;

/// Longest chain of lists including lists (a list naming no list is 1): Falco's files need
/// 2 (10 times less). List expansion recurses along this chain.
pub const MAX_LIST_NESTING: u32 = 20;

/// Deepest expansion of a condition: nesting of `and`/`or`/`not` and checks plus one level
/// per macro reference. Falco's files need 9. Expanding, compiling, evaluating and
/// dropping a condition recurse this deep, which must stay safe on a 2 MiB thread stack in
/// debug builds: a 280-deep condition takes less than 768 KiB there (measured).
pub const MAX_EXPANDED_DEPTH: u32 = 300;

/// Widest output field (`%20proc.name` pads or cuts the value to 20 characters): Falco's
/// files use none. Every alert allocates the width, so `%4000000000proc.name` would ask for
/// gigabytes per alert.
pub const MAX_OUTPUT_FIELD_WIDTH: usize = 1024;

/// Most values, in all the rules of a load, of checks with a modifier (`oneof`, `anyof`,
/// `allof`) that compile a matcher per value: Falco's files have none. A value costs from a
/// few hundred bytes (`contains`) to a kilobyte (`icontains`), so list expansion must not
/// multiply them up to [`MAX_TOTAL_EXPANDED_SIZE`] (`= anyof` and `!= allof` are sets and
/// do not count).
pub const MAX_MODIFIER_VALUES: usize = 20_000;

/// Most regular expressions compiled in all the rules of a load (each value of `regex
/// oneof (...)` is one): Falco's files have none. Each may take [`MAX_REGEX_SIZE`] for its
/// program and as much again per thread for its match cache.
pub const MAX_REGEX_PATTERNS: usize = 256;

/// Largest compiled program and match cache of one regular expression, in bytes (was 4 MiB
/// for the program and the regex crate's 2 MiB cache). Common patterns need far less:
/// `\w+` 50 KB, `a{2000}` 64 KB, `.*\.(sh|py)$` 2 KB (measured).
pub const MAX_REGEX_SIZE: usize = 256 << 10;
