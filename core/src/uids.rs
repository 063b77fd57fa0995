//! The range of uids owners' runs get: each distcron user has one uid of its own from it,
//! allocated once by the manager and never reused, so runs of different owners never share a
//! uid and the kernel keeps them apart (signals, ptrace, `/proc/<pid>/environ`, files). No
//! `/etc/passwd` entry is needed: the worker switches to the uid directly.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// `first-last`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UidRange {
    pub first: u32,
    pub last: u32,
}

impl UidRange {
    /// The default: above Debian's and most hosts' own accounts (up to 60000, `nobody` 65534)
    /// and below 2^31.
    pub const DEFAULT: UidRange = UidRange {
        first: 200_000,
        last: 299_999,
    };

    pub fn contains(&self, uid: u32) -> bool {
        (self.first..=self.last).contains(&uid)
    }
}

impl Default for UidRange {
    fn default() -> Self {
        UidRange::DEFAULT
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for UidRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a uid range like 200000-299999");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (first, last): (u32, u32) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if first == 0 || first > last || last >= 1 << 31 {
            return Err(format!(
                "`{s}`: the range must be non-empty, exclude root (0) and stay below 2^31"
            ));
        }
        Ok(UidRange { first, last })
    }
}

impl Serialize for UidRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UidRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_refuse_root_and_empty_ones() {
        let r: UidRange = "200000-299999".parse().expect("range");
        assert_eq!(r, UidRange::DEFAULT);
        assert!(r.contains(200_000) && r.contains(299_999) && !r.contains(300_000));
        assert_eq!(r.to_string(), "200000-299999");
        for bad in ["0-10", "10-5", "x-1", "5", "1-4294967295"] {
            assert!(bad.parse::<UidRange>().is_err(), "{bad}");
        }
    }
}
