//! Windows time zone names ⇄ IANA names, as CLDR's windowsZones maps them (through the
//! `localzone` crate's copy of it). Microsoft Graph writes `W. Europe Standard Time` where
//! everyone else writes `Europe/Berlin`; calsync stores IANA names and translates at the
//! edge.

use jiff::tz::TimeZone;

/// CLDR's world-wide default (territory `001`) for a Windows zone name.
pub fn iana_for_windows(windows: &str) -> Option<&'static str> {
    localzone::win_zone_to_iana(windows, Some("001"))
}

/// The Windows zone name for an IANA zone (or one of its older names). `UTC` and the
/// `Etc/UTC` family are `UTC`. `None` when CLDR has no name for it, or when the name it has
/// keeps a different clock than the zone does now (CLDR's table lags the time zone
/// database: Scoresbysund moved in 2024): Graph takes IANA names too, so the caller sends
/// the IANA name instead of one that would move the event. The clocks are compared over
/// the year from `now`.
pub fn windows_for_iana(iana: &str, now: jiff::Timestamp) -> Option<&'static str> {
    if matches!(iana, "UTC" | "Etc/UTC" | "Etc/UCT" | "Etc/GMT" | "Etc/Zulu" | "GMT" | "Z") {
        return Some("UTC");
    }
    let (windows, _) = localzone::iana_to_win_zone(iana)?;
    let zone = TimeZone::get(iana).ok()?;
    let default = TimeZone::get(iana_for_windows(windows)?).ok()?;
    same_clock(&zone, &default, now).then_some(windows)
}

/// Whether two zones show the same offsets at the start of every week of the year from `from`
/// (daylight saving included).
fn same_clock(a: &TimeZone, b: &TimeZone, from: jiff::Timestamp) -> bool {
    (0..53).all(|week| {
        let at = from.checked_add(jiff::SignedDuration::from_hours(24 * 7 * week)).unwrap_or(from);
        a.to_offset(at) == b.to_offset(at)
    })
}

/// A zone named either way: IANA first, then Windows.
pub fn zone_named(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok().or_else(|| iana_for_windows(name).and_then(|iana| TimeZone::get(iana).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn graph_s_common_names_are_the_zones_people_mean() {
        for (windows, iana) in [
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("Pacific Standard Time", "America/Los_Angeles"),
            ("Eastern Standard Time", "America/New_York"),
            ("GMT Standard Time", "Europe/London"),
            ("Tokyo Standard Time", "Asia/Tokyo"),
            ("India Standard Time", "Asia/Calcutta"),
            ("UTC", "Etc/UTC"),
        ] {
            assert_eq!(iana_for_windows(windows), Some(iana), "{windows}");
        }
        assert_eq!(windows_for_iana("Europe/Berlin", now()), Some("W. Europe Standard Time"));
        assert_eq!(windows_for_iana("UTC", now()), Some("UTC"));
        assert_eq!(iana_for_windows("Mars Standard Time"), None);
        assert!(zone_named("W. Europe Standard Time").is_some() && zone_named("Europe/Berlin").is_some());
        assert!(zone_named("Nowhere/Special").is_none());
    }

    /// Every IANA zone the database knows that CLDR maps goes to a Windows name and back to
    /// a zone with the same clock all year: translating never moves an event.
    #[test]
    fn every_mapped_zone_round_trips_to_the_same_clock() {
        let mut mapped = 0;
        let mut moved = Vec::new();
        for name in jiff::tz::db().available() {
            let name = name.as_str();
            let Some(windows) = windows_for_iana(name, now()) else { continue };
            mapped += 1;
            let back = iana_for_windows(windows).unwrap_or_else(|| panic!("{name} → {windows} → nothing"));
            let (Ok(original), Some(again)) = (TimeZone::get(name), zone_named(back)) else {
                panic!("{name} → {windows} → {back}: not a zone");
            };
            if !same_clock(&original, &again, now()) {
                moved.push(format!("{name} → {windows} → {back}"));
            }
        }
        assert!(mapped > 300, "only {mapped} zones mapped");
        assert!(moved.is_empty(), "these keep their Windows name but not their clock: {moved:#?}");
    }

    #[test]
    fn a_zone_whose_windows_name_lags_its_clock_gets_none_and_is_sent_by_its_iana_name() {
        // CLDR (as localzone 0.3.1 carries it) files Scoresbysund under the Azores, which it
        // left in 2024: no Windows name rather than a wrong one.
        let zone = TimeZone::get("America/Scoresbysund").unwrap_or_else(|e| panic!("{e}"));
        let lagging = localzone::iana_to_win_zone("America/Scoresbysund")
            .and_then(|(w, _)| iana_for_windows(w))
            .and_then(|iana| TimeZone::get(iana).ok())
            .is_some_and(|default| !same_clock(&zone, &default, now()));
        if lagging {
            assert_eq!(windows_for_iana("America/Scoresbysund", now()), None);
        }
    }
}
