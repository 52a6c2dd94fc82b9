//! Unit tests of the daemon's small helpers.

use super::{outcome_word, push_bounded};
use ananke_core::store::reports::RunOutcome;

#[test]
fn outcomes_read_as_the_reports_write_them() {
    for outcome in [
        RunOutcome::Running,
        RunOutcome::Planned,
        RunOutcome::Succeeded,
        RunOutcome::Incomplete,
        RunOutcome::Failed,
        RunOutcome::Aborted,
    ] {
        assert_eq!(serde_json::to_value(outcome).unwrap(), outcome_word(outcome), "{outcome:?}");
    }
}

#[test]
fn the_event_list_keeps_the_latest() {
    let mut list = Vec::new();
    for i in 0..5 {
        push_bounded(&mut list, i, 3);
    }
    assert_eq!(list, [2, 3, 4]);
    push_bounded(&mut list, 5, 1);
    assert_eq!(list, [5]);
}
