//! chmod modes rendered as Falco renders `evt.arg.mode` (flag names joined by `|`, in the
//! order of libscap's `chmod_mode` table).

const FLAGS: [(&str, u32); 12] = [
    ("S_IXOTH", 0o1),
    ("S_IWOTH", 0o2),
    ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10),
    ("S_IWGRP", 0o20),
    ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100),
    ("S_IWUSR", 0o200),
    ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
];

/// `0o4755` → `S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID`.
pub fn chmod_mode_flags(mode: u32) -> String {
    let names: Vec<&str> = FLAGS
        .iter()
        .filter(|(_, bit)| mode & bit == *bit)
        .map(|(name, _)| *name)
        .collect();
    names.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_setuid_mode() {
        let text = chmod_mode_flags(0o4755);
        assert!(text.contains("S_ISUID"));
        assert!(!text.contains("S_ISGID"));
        assert!(text.starts_with("S_IXOTH|S_IROTH"));
        assert_eq!(chmod_mode_flags(0), "");
    }
}
