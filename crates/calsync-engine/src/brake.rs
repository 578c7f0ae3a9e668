//! The safety brake's limit: how many deletions (or rewrites) at once a link lets through
//! without asking. Pull and push both judge by it.

use calsync_store::LinkSettings;

/// More changes at once than the link allows: more than `max_deletions`, or (from five
/// on, so small calendars are not braked for every cleanup) more than the share.
pub fn trips(settings: &LinkSettings, deletions: usize, linked: usize) -> bool {
    let (deletions, linked) = (i64::try_from(deletions).unwrap_or(i64::MAX), i64::try_from(linked).unwrap_or(i64::MAX));
    deletions > settings.max_deletions
        || (deletions >= 5 && deletions.saturating_mul(100) > settings.max_deletion_percent.saturating_mul(linked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brake_trips_above_the_count_or_the_share_but_not_for_small_cleanups() {
        let rules = LinkSettings::default(); // 20 events or 20 %
        assert!(!trips(&rules, 20, 1000), "20 of 1000: at the limit, not over it");
        assert!(trips(&rules, 21, 1000), "21 events");
        assert!(trips(&rules, 6, 25), "24 % of 25");
        assert!(!trips(&rules, 5, 25), "exactly 20 %");
        assert!(!trips(&rules, 4, 4), "all of a tiny calendar: under five is never braked");
        let strict = LinkSettings { max_deletions: 0, ..rules };
        assert!(trips(&strict, 1, 1000), "a limit of 0 asks about every deletion");
    }
}
