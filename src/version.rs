//! A Codex release number (`0.171.0`), as the backend compares them: the
//! catalog's `minimal_client_version` against the `version` a request carries.
//! A leaf: no imports from the crate.

/// `major.minor.patch`, compared as numbers (`0.9.0` < `0.171.0`); a
/// pre-release tail (`-alpha.1`) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.trim().split(['-', '+', ' ']).next()?;
        let mut parts = core.split('.');
        let mut num = || -> Option<u64> {
            let p = parts.next()?;
            (!p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let v = Version(num()?, num()?, num()?);
        parts.next().is_none().then_some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("0.9.0") < v("0.171.0"));
        assert_eq!(v("0.172.0-alpha.3"), Version(0, 172, 0));
        for bad in ["", "1.2", "a.b.c", "1.2.3.4", "0.1.99999999"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }
}
