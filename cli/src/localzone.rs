//! The machine's local IANA time zone: the zone cron runs crontab entries without `CRON_TZ`
//! in, and so import-crontab's default `--tz`.

use distcron_core::TimeZone;
use std::path::Path;

/// The local zone and, when it had to fall back to UTC, why.
pub fn local() -> (String, Option<String>) {
    let tz = std::env::var("TZ").ok();
    let etc = std::fs::read_to_string("/etc/timezone").ok();
    let link = std::fs::read_link("/etc/localtime").ok();
    choose(tz.as_deref(), etc.as_deref(), link.as_deref())
}

/// The first usable of: the `TZ` variable (a leading `:` dropped), `/etc/timezone`'s line,
/// the zone `/etc/localtime` links to (its path after `zoneinfo/`); else UTC, with a note.
pub fn choose(
    tz: Option<&str>,
    etc_timezone: Option<&str>,
    localtime: Option<&Path>,
) -> (String, Option<String>) {
    let from_link = localtime.and_then(|p| {
        let p = p.to_str()?;
        let (_, zone) = p.rsplit_once("zoneinfo/")?;
        Some(zone.to_string())
    });
    let candidates = [
        tz.map(|t| t.trim().trim_start_matches(':').to_string()),
        etc_timezone.map(|t| t.trim().to_string()),
        from_link,
    ];
    for zone in candidates.into_iter().flatten() {
        if !zone.is_empty() && TimeZone::parse(&zone).is_ok() {
            return (zone, None);
        }
    }
    (
        "UTC".to_string(),
        Some("the machine's time zone is unknown: UTC (choose one with --tz)".to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tz_first_then_etc_timezone_then_the_localtime_link() {
        let link = Path::new("/usr/share/zoneinfo/Asia/Tokyo");
        let pick = |tz, etc, l| choose(tz, etc, l).0;
        assert_eq!(
            pick(Some(":Europe/Paris"), Some("x"), Some(link)),
            "Europe/Paris"
        );
        assert_eq!(
            pick(None, Some("America/Chicago\n"), Some(link)),
            "America/Chicago"
        );
        assert_eq!(pick(None, None, Some(link)), "Asia/Tokyo");
        // Unusable ones are passed over.
        assert_eq!(pick(Some("Mars/Base"), Some(""), Some(link)), "Asia/Tokyo");
    }

    #[test]
    fn nothing_usable_is_utc_with_a_note() {
        let (zone, note) = choose(None, None, Some(Path::new("/etc/somewhere")));
        assert_eq!(zone, "UTC");
        assert!(note.expect("a note").contains("--tz"));
    }
}
