//! Splitting a container image reference like Falco does: `repository[:tag][@digest]`, where
//! the repository keeps its registry (and the registry's port: the `:` of `host:5000/` is not a
//! tag separator).

/// The parts of an image reference. `repository` keeps the registry host as written
/// (`nginx` stays `nginx`: no `docker.io/library/` is added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn parse(image: &str) -> ImageRef<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A tag's `:` comes after the last `/`; one before it is a registry port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    ImageRef {
        repository,
        tag: tag.filter(|t| !t.is_empty()),
        digest: digest.filter(|d| !d.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:2b7412e6465c3c7fc5bb21d3e6f1917c167358449fecac8176c6e496e5c1f05f";

    fn parts(image: &str) -> (&str, Option<&str>, Option<&str>) {
        let r = parse(image);
        (r.repository, r.tag, r.digest)
    }

    #[test]
    fn parses_images_like_falco() {
        assert_eq!(parts("nginx"), ("nginx", None, None));
        assert_eq!(parts("nginx:1.25"), ("nginx", Some("1.25"), None));
        assert_eq!(
            parts("docker.io/library/nginx:1.25"),
            ("docker.io/library/nginx", Some("1.25"), None)
        );
        let full = format!("registry.example.com:5000/team/app:v1@{DIGEST}");
        assert_eq!(
            parts(&full),
            (
                "registry.example.com:5000/team/app",
                Some("v1"),
                Some(DIGEST)
            )
        );
        let gcr = format!("gcr.io/x/y@{DIGEST}");
        assert_eq!(parts(&gcr), ("gcr.io/x/y", None, Some(DIGEST)));
        assert_eq!(
            parts("registry.example.com:5000/app"),
            ("registry.example.com:5000/app", None, None)
        );
        assert_eq!(
            parts("localhost:5000/app:dev"),
            ("localhost:5000/app", Some("dev"), None)
        );
        assert_eq!(parts(""), ("", None, None));
    }
}
