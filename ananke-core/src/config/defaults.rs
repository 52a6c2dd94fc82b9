//! Defaults shared by the config model's sections.

use super::duration::HumanDuration;

pub(super) fn yes() -> bool {
    true
}

pub(super) fn one() -> u32 {
    1
}

pub(super) fn d_1s() -> HumanDuration {
    HumanDuration::secs(1)
}

pub(super) fn d_10s() -> HumanDuration {
    HumanDuration::secs(10)
}

pub(super) fn d_30s() -> HumanDuration {
    HumanDuration::secs(30)
}

pub(super) fn d_5m() -> HumanDuration {
    HumanDuration::secs(300)
}

pub(super) fn d_20m() -> HumanDuration {
    HumanDuration::secs(1200)
}

pub(super) fn d_1h() -> HumanDuration {
    HumanDuration::secs(3600)
}

pub(super) fn d_5s() -> HumanDuration {
    HumanDuration::secs(5)
}

pub(super) fn d_15s() -> HumanDuration {
    HumanDuration::secs(15)
}

pub(super) fn d_2m() -> HumanDuration {
    HumanDuration::secs(120)
}

pub(super) fn d_10m() -> HumanDuration {
    HumanDuration::secs(600)
}

pub(super) fn d_30m() -> HumanDuration {
    HumanDuration::secs(1800)
}
