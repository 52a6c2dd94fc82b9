//! Unit tests of the daemon's small helpers.

use super::push_bounded;

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
