//! The three-way rule of DESIGN.md §2: given the base (what both sides last agreed on), the
//! local event and the remote one, decide what to write where. `None` for a side means the
//! event is deleted there (or, without a base, was never there).

use super::content::{Content, Field};
use crate::event::Attendee;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// Both sides equal the base: nothing to do (also how echoes of our own writes end).
    Nothing,
    /// Both sides changed to the same content: record it as the new base, write nothing.
    NewBase {
        content: Content,
    },
    /// Write the local content to the remote (create it when it has no remote yet).
    Push {
        content: Content,
    },
    /// Write the remote content to the hub (create it when it has no local yet).
    Apply {
        content: Content,
    },
    /// Both changed, different fields: write the merge both ways.
    Merge {
        content: Content,
        local: Vec<Field>,
        remote: Vec<Field>,
    },
    DeleteRemote,
    DeleteLocal,
    /// Deleted on both sides: drop the link.
    Forget,
    /// Both changed the same fields differently, or one deleted what the other changed:
    /// pause this event on this link and ask the user.
    Conflict {
        fields: Vec<Field>,
        reason: ConflictReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// Both sides edited overlapping fields to different values.
    BothEdited,
    /// Deleted locally, edited remotely.
    DeletedLocally,
    /// Deleted remotely, edited locally.
    DeletedRemotely,
    /// First pairing (no base yet) of two events with different content.
    FirstMatchDiffers,
}

pub fn plan(base: Option<&Content>, local: Option<&Content>, remote: Option<&Content>) -> Plan {
    let Some(base) = base else {
        return match (local, remote) {
            (None, None) => Plan::Forget,
            (Some(l), None) => Plan::Push { content: l.clone() },
            (None, Some(r)) => Plan::Apply { content: r.clone() },
            (Some(l), Some(r)) if l == r => Plan::NewBase { content: l.clone() },
            (Some(l), Some(r)) => Plan::Conflict { fields: l.diff(r), reason: ConflictReason::FirstMatchDiffers },
        };
    };
    match (local, remote) {
        (None, None) => Plan::Forget,
        (None, Some(r)) if r == base => Plan::DeleteRemote,
        (None, Some(r)) => Plan::Conflict { fields: base.diff(r), reason: ConflictReason::DeletedLocally },
        (Some(l), None) if l == base => Plan::DeleteLocal,
        (Some(l), None) => Plan::Conflict { fields: base.diff(l), reason: ConflictReason::DeletedRemotely },
        (Some(l), Some(r)) => {
            let local_changed = base.diff(l);
            let remote_changed = base.diff(r);
            match (local_changed.is_empty(), remote_changed.is_empty()) {
                (true, true) => Plan::Nothing,
                (false, true) => Plan::Push { content: l.clone() },
                (true, false) => Plan::Apply { content: r.clone() },
                (false, false) if l == r => Plan::NewBase { content: l.clone() },
                (false, false) => merge(base, l, r, local_changed, remote_changed),
            }
        }
    }
}

/// Both sides changed, to different contents. Each field changed by one side only takes that
/// side's value; a field both changed to the same value takes it. A field both changed to
/// different values clashes, except the attendees, which merge per email (see
/// [`merge_attendees`]) and clash only when one person does.
fn merge(base: &Content, l: &Content, r: &Content, local: Vec<Field>, remote: Vec<Field>) -> Plan {
    let differing = l.diff(r);
    let mut merged = base.clone();
    let mut clashing = Vec::new();
    for f in Field::ALL {
        match (local.contains(&f), remote.contains(&f)) {
            (false, false) => {}
            (true, false) => merged.take(l, f),
            (false, true) => merged.take(r, f),
            (true, true) if !differing.contains(&f) => merged.take(l, f),
            (true, true) if f == Field::Attendees => {
                match merge_attendees(&base.attendees, &l.attendees, &r.attendees) {
                    Some(attendees) => merged.attendees = attendees,
                    None => clashing.push(f),
                }
            }
            (true, true) => clashing.push(f),
        }
    }
    if !clashing.is_empty() {
        return Plan::Conflict { fields: clashing, reason: ConflictReason::BothEdited };
    }
    Plan::Merge { content: merged, local, remote }
}

/// The attendees as a set keyed by email, merged three ways per person: whatever one side did
/// to a person (invite, uninvite, rename, a new response) while the other left them as in the
/// base wins; both sides doing the same is taken once. `None` when some person was changed
/// differently on the two sides (including removed on one and changed on the other). The
/// result is sorted by email, as [`Content::of`] leaves it.
fn merge_attendees(base: &[Attendee], local: &[Attendee], remote: &[Attendee]) -> Option<Vec<Attendee>> {
    let by_email = |list: &[Attendee]| -> BTreeMap<String, Attendee> {
        list.iter().map(|a| (a.email.clone(), a.clone())).collect()
    };
    let (base, local, remote) = (by_email(base), by_email(local), by_email(remote));
    let emails: BTreeSet<&String> = base.keys().chain(local.keys()).chain(remote.keys()).collect();
    let mut merged = Vec::new();
    for email in emails {
        let (b, l, r) = (base.get(email), local.get(email), remote.get(email));
        let kept = if l == r {
            l
        } else if l == b {
            r
        } else if r == b {
            l
        } else {
            return None;
        };
        merged.extend(kept.cloned());
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventInput, ResponseStatus, Status, Transparency, Visibility};
    use crate::event_time::EventTimeInput;
    use crate::ids::CalendarId;
    use proptest::prelude::*;
    use proptest::sample::select;

    fn base() -> Content {
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(),
            "title": "Team sync",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        Content::of(&input)
    }

    fn with(edit: impl FnOnce(&mut Content)) -> Content {
        let mut c = base();
        edit(&mut c);
        c
    }

    #[test]
    fn unchanged_on_both_sides_is_nothing() {
        assert_eq!(plan(Some(&base()), Some(&base()), Some(&base())), Plan::Nothing);
    }

    #[test]
    fn a_change_on_one_side_goes_to_the_other() {
        let renamed = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), Some(&renamed), Some(&base())), Plan::Push { content: renamed.clone() });
        assert_eq!(plan(Some(&base()), Some(&base()), Some(&renamed)), Plan::Apply { content: renamed });
    }

    #[test]
    fn the_same_change_on_both_sides_only_records_a_new_base() {
        let renamed = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), Some(&renamed), Some(&renamed)), Plan::NewBase { content: renamed });
    }

    #[test]
    fn changes_to_different_fields_merge() {
        let local = with(|c| c.title = "Renamed".into());
        let remote = with(|c| c.location = Some("Room 2".into()));
        let merged = with(|c| {
            c.title = "Renamed".into();
            c.location = Some("Room 2".into());
        });
        assert_eq!(
            plan(Some(&base()), Some(&local), Some(&remote)),
            Plan::Merge { content: merged, local: vec![Field::Title], remote: vec![Field::Location] }
        );
    }

    #[test]
    fn different_changes_to_the_same_field_conflict() {
        let local = with(|c| c.title = "Ours".into());
        let remote = with(|c| {
            c.title = "Theirs".into();
            c.location = Some("Room 2".into());
        });
        assert_eq!(
            plan(Some(&base()), Some(&local), Some(&remote)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::BothEdited }
        );
    }

    #[test]
    fn start_and_end_merge_as_one_field() {
        let local = with(|c| c.start.date_time = Some("2026-05-04T08:00:00".into()));
        let remote = with(|c| c.end.date_time = Some("2026-05-04T11:00:00".into()));
        assert!(matches!(plan(Some(&base()), Some(&local), Some(&remote)), Plan::Conflict { .. }));
    }

    #[test]
    fn deletions_apply_only_against_an_unchanged_other_side() {
        let edited = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), None, Some(&base())), Plan::DeleteRemote);
        assert_eq!(plan(Some(&base()), Some(&base()), None), Plan::DeleteLocal);
        assert_eq!(plan(Some(&base()), None, None), Plan::Forget);
        assert_eq!(
            plan(Some(&base()), None, Some(&edited)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::DeletedLocally }
        );
        assert_eq!(
            plan(Some(&base()), Some(&edited), None),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::DeletedRemotely }
        );
    }

    #[test]
    fn without_a_base_new_events_flow_and_equal_ones_pair_up() {
        assert_eq!(plan(None, Some(&base()), None), Plan::Push { content: base() });
        assert_eq!(plan(None, None, Some(&base())), Plan::Apply { content: base() });
        assert_eq!(plan(None, Some(&base()), Some(&base())), Plan::NewBase { content: base() });
        let other = with(|c| c.title = "Other".into());
        assert_eq!(
            plan(None, Some(&base()), Some(&other)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::FirstMatchDiffers }
        );
    }

    // ---- DESIGN.md §2, row by row ------------------------------------------------------

    fn titled(title: &str) -> Content {
        with(|c| c.title = title.into())
    }

    fn timed(date_time: &str) -> EventTimeInput {
        EventTimeInput { date: None, date_time: Some(date_time.into()), time_zone: Some("Europe/Berlin".into()) }
    }

    /// An hour later than [`base`].
    fn moved() -> Content {
        with(|c| {
            c.start = timed("2026-05-04T10:00:00");
            c.end = timed("2026-05-04T11:00:00");
        })
    }

    fn ada(response_status: ResponseStatus) -> Attendee {
        Attendee { email: "ada@example.com".into(), name: None, response_status }
    }

    fn bob(response_status: ResponseStatus) -> Attendee {
        Attendee { email: "bob@example.com".into(), name: None, response_status }
    }

    fn named(name: &str, attendee: Attendee) -> Attendee {
        Attendee { name: Some(name.into()), ..attendee }
    }

    /// [`base`] with these attendees (sorted by email, as [`Content::of`] leaves them),
    /// after `edit`.
    fn invited(people: &[Attendee], edit: impl FnOnce(&mut Content)) -> Content {
        with(|c| {
            c.attendees = people.to_vec();
            c.attendees.sort_by(|a, b| a.email.cmp(&b.email));
            edit(c);
        })
    }

    /// A weekly series master, after `edit`.
    fn series(edit: impl FnOnce(&mut Content)) -> Content {
        with(|c| {
            c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=MO".into()];
            edit(c);
        })
    }

    struct Row {
        name: &'static str,
        base: Option<Content>,
        local: Option<Content>,
        remote: Option<Content>,
        expect: Plan,
    }

    fn merged(content: Content, local: &[Field], remote: &[Field]) -> Plan {
        Plan::Merge { content, local: local.to_vec(), remote: remote.to_vec() }
    }

    fn conflict(fields: &[Field], reason: ConflictReason) -> Plan {
        Plan::Conflict { fields: fields.to_vec(), reason }
    }

    #[test]
    fn every_row_of_the_three_way_table() {
        use ConflictReason::{BothEdited, DeletedLocally, DeletedRemotely, FirstMatchDiffers};
        use Field::{Attendees, Location, Recurrence, Time, Title};
        use ResponseStatus::{Accepted, Declined, NeedsAction};
        let b = base;
        let rows = vec![
            // The table of DESIGN.md §2, in its order.
            Row {
                name: "same | same: nothing (also how our own echoed writes end)",
                base: Some(b()),
                local: Some(b()),
                remote: Some(b()),
                expect: Plan::Nothing,
            },
            Row {
                name: "changed | same: push local to remote",
                base: Some(b()),
                local: Some(titled("Renamed")),
                remote: Some(b()),
                expect: Plan::Push { content: titled("Renamed") },
            },
            Row {
                name: "same | changed: apply remote to the hub",
                base: Some(b()),
                local: Some(b()),
                remote: Some(titled("Renamed")),
                expect: Plan::Apply { content: titled("Renamed") },
            },
            Row {
                name: "changed | changed, same result: record the new base",
                base: Some(b()),
                local: Some(titled("Renamed")),
                remote: Some(titled("Renamed")),
                expect: Plan::NewBase { content: titled("Renamed") },
            },
            Row {
                name: "changed | changed, disjoint fields (title, location): merge",
                base: Some(b()),
                local: Some(titled("Renamed")),
                remote: Some(with(|c| c.location = Some("Room 2".into()))),
                expect: merged(
                    with(|c| {
                        c.title = "Renamed".into();
                        c.location = Some("Room 2".into());
                    }),
                    &[Title],
                    &[Location],
                ),
            },
            Row {
                name: "changed | changed, disjoint fields (title here, time there): merge",
                base: Some(b()),
                local: Some(titled("Renamed")),
                remote: Some(moved()),
                expect: merged(
                    {
                        let mut c = moved();
                        c.title = "Renamed".into();
                        c
                    },
                    &[Title],
                    &[Time],
                ),
            },
            Row {
                name: "changed | changed, overlapping field: conflict on that field only",
                base: Some(b()),
                local: Some(titled("Ours")),
                remote: Some(with(|c| {
                    c.title = "Theirs".into();
                    c.location = Some("Room 2".into());
                })),
                expect: conflict(&[Title], BothEdited),
            },
            Row {
                name: "changed | changed, start here and end there: time is one field, conflict",
                base: Some(b()),
                local: Some(with(|c| c.start = timed("2026-05-04T08:00:00"))),
                remote: Some(with(|c| c.end = timed("2026-05-04T11:00:00"))),
                expect: conflict(&[Time], BothEdited),
            },
            Row {
                name: "deleted | changed: conflict, never resurrect silently",
                base: Some(b()),
                local: None,
                remote: Some(titled("Renamed")),
                expect: conflict(&[Title], DeletedLocally),
            },
            Row {
                name: "changed | deleted: conflict, never delete an edit silently",
                base: Some(b()),
                local: Some(titled("Renamed")),
                remote: None,
                expect: conflict(&[Title], DeletedRemotely),
            },
            // Deletions against an untouched other side, and on both sides.
            Row {
                name: "deleted | same: delete the remote",
                base: Some(b()),
                local: None,
                remote: Some(b()),
                expect: Plan::DeleteRemote,
            },
            Row {
                name: "same | deleted: delete the local",
                base: Some(b()),
                local: Some(b()),
                remote: None,
                expect: Plan::DeleteLocal,
            },
            Row {
                name: "deleted | deleted: forget the link",
                base: Some(b()),
                local: None,
                remote: None,
                expect: Plan::Forget,
            },
            // No base yet: creations, and the first pairing of two events.
            Row { name: "no base, nowhere: forget", base: None, local: None, remote: None, expect: Plan::Forget },
            Row {
                name: "no base, local only: create it remotely",
                base: None,
                local: Some(b()),
                remote: None,
                expect: Plan::Push { content: b() },
            },
            Row {
                name: "no base, remote only: create it in the hub",
                base: None,
                local: None,
                remote: Some(b()),
                expect: Plan::Apply { content: b() },
            },
            Row {
                name: "no base, equal on both sides: pair them up",
                base: None,
                local: Some(b()),
                remote: Some(b()),
                expect: Plan::NewBase { content: b() },
            },
            Row {
                name: "no base, different on the two sides: conflict",
                base: None,
                local: Some(b()),
                remote: Some(titled("Other")),
                expect: conflict(&[Title], FirstMatchDiffers),
            },
            // Attendees merge as a set keyed by email.
            Row {
                name: "attendees: each side invites someone else: both are invited",
                base: Some(b()),
                local: Some(invited(&[ada(NeedsAction)], |_| {})),
                remote: Some(invited(&[bob(NeedsAction)], |_| {})),
                expect: merged(invited(&[ada(NeedsAction), bob(NeedsAction)], |_| {}), &[Attendees], &[Attendees]),
            },
            Row {
                name: "attendees: both invite the same person alike: new base",
                base: Some(b()),
                local: Some(invited(&[ada(NeedsAction)], |_| {})),
                remote: Some(invited(&[ada(NeedsAction)], |_| {})),
                expect: Plan::NewBase { content: invited(&[ada(NeedsAction)], |_| {}) },
            },
            Row {
                name: "attendees: both invite the same person alike, plus a rename here: merge",
                base: Some(b()),
                local: Some(invited(&[ada(NeedsAction)], |c| c.title = "Renamed".into())),
                remote: Some(invited(&[ada(NeedsAction)], |_| {})),
                expect: merged(
                    invited(&[ada(NeedsAction)], |c| c.title = "Renamed".into()),
                    &[Title, Attendees],
                    &[Attendees],
                ),
            },
            Row {
                name: "attendees: both invite the same person with different responses: conflict",
                base: Some(b()),
                local: Some(invited(&[ada(Accepted)], |_| {})),
                remote: Some(invited(&[ada(Declined)], |_| {})),
                expect: conflict(&[Attendees], BothEdited),
            },
            Row {
                name: "attendees: one person's response here, another's there: both kept",
                base: Some(invited(&[ada(NeedsAction), bob(NeedsAction)], |_| {})),
                local: Some(invited(&[ada(Accepted), bob(NeedsAction)], |_| {})),
                remote: Some(invited(&[ada(NeedsAction), bob(Declined)], |_| {})),
                expect: merged(invited(&[ada(Accepted), bob(Declined)], |_| {}), &[Attendees], &[Attendees]),
            },
            Row {
                name: "attendees: uninvited here, someone else invited there: merge",
                base: Some(invited(&[ada(NeedsAction)], |_| {})),
                local: Some(b()),
                remote: Some(invited(&[ada(NeedsAction), bob(NeedsAction)], |_| {})),
                expect: merged(invited(&[bob(NeedsAction)], |_| {}), &[Attendees], &[Attendees]),
            },
            Row {
                name: "attendees: uninvited on both sides, someone invited there: merge",
                base: Some(invited(&[ada(NeedsAction)], |_| {})),
                local: Some(b()),
                remote: Some(invited(&[bob(NeedsAction)], |_| {})),
                expect: merged(invited(&[bob(NeedsAction)], |_| {}), &[Attendees], &[Attendees]),
            },
            Row {
                name: "attendees: uninvited here, their response changed there: conflict",
                base: Some(invited(&[ada(NeedsAction)], |_| {})),
                local: Some(invited(&[bob(NeedsAction)], |_| {})),
                remote: Some(invited(&[ada(Accepted)], |_| {})),
                expect: conflict(&[Attendees], BothEdited),
            },
            Row {
                name: "attendees: the same person renamed differently: conflict",
                base: Some(invited(&[ada(NeedsAction)], |_| {})),
                local: Some(invited(&[named("Ada L.", ada(NeedsAction))], |_| {})),
                remote: Some(invited(&[named("Ada Lovelace", ada(NeedsAction))], |_| {})),
                expect: conflict(&[Attendees], BothEdited),
            },
            Row {
                name: "attendees: a person clash and a title clash: both fields in conflict",
                base: Some(b()),
                local: Some(invited(&[ada(Accepted)], |c| c.title = "Ours".into())),
                remote: Some(invited(&[ada(Declined)], |c| c.title = "Theirs".into())),
                expect: conflict(&[Title, Attendees], BothEdited),
            },
            // Series. An edit of one occurrence is an exception, which calsync keeps as an
            // event of its own with its own content, link and base: it is planned on its own,
            // never against the master. So "one instance here, the whole series there" is two
            // independent plans; what is left to test here is the master itself.
            Row {
                name: "series master: recurrence edited here, untouched there: push",
                base: Some(series(|_| {})),
                local: Some(series(|c| c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10".into()])),
                remote: Some(series(|_| {})),
                expect: Plan::Push {
                    content: series(|c| c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10".into()]),
                },
            },
            Row {
                name: "series master: renamed there, untouched here: apply",
                base: Some(series(|_| {})),
                local: Some(series(|_| {})),
                remote: Some(series(|c| c.title = "Weekly".into())),
                expect: Plan::Apply { content: series(|c| c.title = "Weekly".into()) },
            },
            Row {
                name: "series master: recurrence here, title there: merge",
                base: Some(series(|_| {})),
                local: Some(series(|c| c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".into()])),
                remote: Some(series(|c| c.title = "Weekly".into())),
                expect: merged(
                    series(|c| {
                        c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".into()];
                        c.title = "Weekly".into();
                    }),
                    &[Recurrence],
                    &[Title],
                ),
            },
            Row {
                name: "series master: recurrence edited differently on both sides: conflict",
                base: Some(series(|_| {})),
                local: Some(series(|c| c.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".into()])),
                remote: Some(series(|c| c.recurrence = vec!["RRULE:FREQ=DAILY".into()])),
                expect: conflict(&[Recurrence], BothEdited),
            },
        ];
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|row| {
                let got = plan(row.base.as_ref(), row.local.as_ref(), row.remote.as_ref());
                (got != row.expect).then(|| format!("{}:\n  expected {:?}\n  got      {:?}", row.name, row.expect, got))
            })
            .collect();
        assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
    }

    // ---- Property: a change only one side made is never lost ---------------------------

    const EMAILS: [&str; 3] = ["ada@example.com", "bob@example.com", "cy@example.com"];

    /// Everything but the attendees, which get per-person edits instead.
    const WHOLE_FIELDS: [Field; 8] = [
        Field::Title,
        Field::Description,
        Field::Location,
        Field::Time,
        Field::Recurrence,
        Field::Status,
        Field::Transparency,
        Field::Visibility,
    ];

    /// One person's entry: absent, or present with a name and a response. Few values, so
    /// that both sides often pick the same one.
    type Entry = Option<(Option<&'static str>, ResponseStatus)>;

    fn entry() -> impl Strategy<Value = Entry> {
        proptest::option::of((
            proptest::option::of(select(vec!["Ada", "A. L."])),
            select(vec![ResponseStatus::NeedsAction, ResponseStatus::Accepted, ResponseStatus::Declined]),
        ))
    }

    fn person(i: usize, (name, response_status): (Option<&str>, ResponseStatus)) -> Attendee {
        Attendee { email: EMAILS[i].into(), name: name.map(str::to_owned), response_status }
    }

    fn content() -> impl Strategy<Value = Content> {
        let text = || select(vec![None, Some("Room 1"), Some("Room 2")]);
        let time = select(vec![
            (timed("2026-05-04T09:00:00"), timed("2026-05-04T10:00:00")),
            (timed("2026-05-04T10:00:00"), timed("2026-05-04T11:00:00")),
            (
                EventTimeInput { date: Some("2026-05-04".into()), ..Default::default() },
                EventTimeInput { date: Some("2026-05-05".into()), ..Default::default() },
            ),
        ]);
        let recurrence = select(vec![vec![], vec!["RRULE:FREQ=WEEKLY"], vec!["RRULE:FREQ=DAILY;COUNT=5"]]);
        (
            select(vec!["Team sync", "Standup"]),
            text(),
            text(),
            time,
            recurrence,
            select(vec![Status::Confirmed, Status::Tentative, Status::Cancelled]),
            select(vec![Transparency::Busy, Transparency::Free]),
            select(vec![Visibility::Default, Visibility::Private]),
            [entry(), entry(), entry()],
        )
            .prop_map(
                |(title, description, location, (start, end), recurrence, status, transparency, visibility, people)| {
                    Content {
                        title: title.into(),
                        description: description.map(str::to_owned),
                        location: location.map(str::to_owned),
                        start,
                        end,
                        recurrence: recurrence.into_iter().map(str::to_owned).collect(),
                        status,
                        transparency,
                        visibility,
                        attendees: people
                            .into_iter()
                            .enumerate()
                            .filter_map(|(i, e)| e.map(|e| person(i, e)))
                            .collect(),
                    }
                },
            )
    }

    /// One side's edit of one field (possibly to the value it already has).
    #[derive(Debug, Clone)]
    enum Edit {
        /// Set `field` to its value in the content given.
        Take(Field, Box<Content>),
        /// Invite, uninvite or change one or two people (by index into [`EMAILS`]).
        People(Vec<(usize, Entry)>),
    }

    impl Edit {
        fn apply(&self, base: &Content) -> Content {
            let mut c = base.clone();
            match self {
                Self::Take(field, from) => c.take(from, *field),
                Self::People(changes) => {
                    for (i, e) in changes {
                        c.attendees.retain(|a| a.email != EMAILS[*i]);
                        c.attendees.extend(e.map(|e| person(*i, e)));
                    }
                    c.attendees.sort_by(|a, b| a.email.cmp(&b.email));
                }
            }
            c
        }
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (select(WHOLE_FIELDS.to_vec()), content()).prop_map(|(f, c)| Edit::Take(f, Box::new(c))),
            proptest::collection::vec((0..EMAILS.len(), entry()), 1..=2).prop_map(Edit::People),
        ]
    }

    /// A local and a remote edit; half the time of the same field, so that clashes are common.
    fn edits() -> impl Strategy<Value = (Edit, Edit)> {
        prop_oneof![
            (edit(), edit()),
            (select(WHOLE_FIELDS.to_vec()), content(), content())
                .prop_map(|(f, a, b)| (Edit::Take(f, Box::new(a)), Edit::Take(f, Box::new(b)))),
        ]
    }

    /// The attendee rule, stated per person: what only one side did to someone wins, what
    /// both did alike is kept, anything else about that person is a clash (`None`).
    fn expected_attendees(base: &Content, local: &Content, remote: &Content) -> Option<Vec<Attendee>> {
        let find = |c: &Content, email: &str| c.attendees.iter().find(|a| a.email == email).cloned();
        let mut out = Vec::new();
        for email in EMAILS {
            let (b, l, r) = (find(base, email), find(local, email), find(remote, email));
            let kept = match (l != b, r != b) {
                (false, false) => b,
                (true, false) => l,
                (false, true) => r,
                (true, true) if l == r => l,
                (true, true) => return None,
            };
            out.extend(kept);
        }
        Some(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_change_only_one_side_made_is_never_lost(base in content(), (local_edit, remote_edit) in edits()) {
            let local = local_edit.apply(&base);
            let remote = remote_edit.apply(&base);
            let local_changed = base.diff(&local);
            let remote_changed = base.diff(&remote);
            let people = expected_attendees(&base, &local, &remote);
            let clashes: Vec<Field> = Field::ALL
                .into_iter()
                .filter(|f| local_changed.contains(f) && remote_changed.contains(f) && local.diff(&remote).contains(f))
                .filter(|f| *f != Field::Attendees || people.is_none())
                .collect();

            let outcome = plan(Some(&base), Some(&local), Some(&remote));
            let content = match outcome {
                Plan::Conflict { fields, reason } => {
                    prop_assert_eq!(reason, ConflictReason::BothEdited);
                    prop_assert_eq!(fields, clashes);
                    return Ok(());
                }
                Plan::Nothing => {
                    prop_assert!(local_changed.is_empty() && remote_changed.is_empty());
                    base.clone()
                }
                Plan::Push { content } => {
                    prop_assert!(!local_changed.is_empty() && remote_changed.is_empty());
                    content
                }
                Plan::Apply { content } => {
                    prop_assert!(local_changed.is_empty() && !remote_changed.is_empty());
                    content
                }
                Plan::NewBase { content } => {
                    prop_assert!(!local_changed.is_empty() && local == remote);
                    content
                }
                Plan::Merge { content, local: l, remote: r } => {
                    prop_assert!(local != remote);
                    prop_assert_eq!(&l, &local_changed);
                    prop_assert_eq!(&r, &remote_changed);
                    content
                }
                other => {
                    prop_assert!(false, "no deletion was made, yet the plan is {:?}", other);
                    return Ok(());
                }
            };
            prop_assert!(clashes.is_empty(), "clashes {:?} went unreported", clashes);
            for f in Field::ALL {
                let source = match (local_changed.contains(&f), remote_changed.contains(&f)) {
                    (false, false) => &base,
                    (true, false) => &local,
                    (false, true) => &remote,
                    // No clash: the two sides agree on it (the attendees are checked below).
                    (true, true) => &local,
                };
                if f != Field::Attendees || !(local_changed.contains(&f) && remote_changed.contains(&f)) {
                    prop_assert!(!content.diff(source).contains(&f), "{:?} lost: {:?}", f, content);
                }
            }
            if let Some(people) = people {
                prop_assert_eq!(&content.attendees, &people);
            }
        }
    }
}
