//! Two clocks, against the world: a real `startup --execute` (real adapters, `ananke-sim serve`,
//! sshd, upsd) whose wall clock steps three hours ahead in the middle of the run, the way an NTP
//! correction at boot does. The step is made by libfaketime (Debian's `faketime`), preloaded into
//! the `ananke` process only, with the monotonic clock left real. Deadlines run on the monotonic
//! clock, so the startup (deadline 240 s) still succeeds and its progress lines count from the
//! run's start; the report's wall-clock timestamps show the step.

use crate::common::read_json;
use crate::e2e::Lab;
use std::ffi::OsStr;
use std::time::{Duration, SystemTime};

/// Debian's libfaketime for multi-threaded programs, in this architecture's library dir.
fn libfaketime() -> std::path::PathBuf {
    let dirs =
        std::fs::read_dir("/usr/lib").map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>()).unwrap_or_default();
    let found = dirs.into_iter().map(|d| d.join("faketime/libfaketimeMT.so.1")).find(|p| p.exists());
    found.expect("libfaketimeMT.so.1 under /usr/lib/*/faketime (Debian package faketime; scripts/test.sh installs it)")
}

/// The wall clock's step: three hours, far beyond every deadline of the lab's startup.
const STEP: Duration = Duration::from_secs(3 * 3600);

fn parse(at: &serde_json::Value) -> SystemTime {
    humantime::parse_rfc3339(at.as_str().expect("an RFC 3339 timestamp")).expect("RFC 3339")
}

#[test]
fn a_wall_clock_step_in_the_middle_of_a_startup_moves_no_deadline() {
    let library = libfaketime();
    let lab = Lab::start("titan-lab");
    let (code, stdout, stderr) = lab.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let offset = lab.dir.path().join("faketime.rc");
    std::fs::write(&offset, "+0\n").unwrap();
    let stepper = {
        let offset = offset.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            std::fs::write(&offset, format!("+{}\n", STEP.as_secs())).unwrap();
        })
    };
    let real_start = SystemTime::now();
    let env: [(&str, &OsStr); 4] = [
        ("LD_PRELOAD", library.as_os_str()),
        ("FAKETIME_TIMESTAMP_FILE", offset.as_os_str()),
        ("FAKETIME_NO_CACHE", OsStr::new("1")),
        ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
    ];
    let (code, stdout, stderr) = lab.ananke_env(&["startup", "--execute"], &env);
    stepper.join().unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("Succeeded in state ready"), "{stdout}\n{stderr}");

    let report = read_json(&lab.state.join("last-startup-report.json"));
    let (started, finished) = (parse(&report["started_at"]), parse(&report["finished_at"]));
    let near = |a: SystemTime, b: SystemTime| {
        a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap() < Duration::from_secs(60)
    };
    assert!(near(started, real_start), "the run started before the step: {}", report["started_at"]);
    assert!(finished.duration_since(started).unwrap() >= STEP, "the wall clock stepped during the run: {report}");
    let duration = report["duration_ms"].as_u64().unwrap();
    assert!(duration < 240_000, "the run's duration is monotonic time: {duration} ms");

    // Progress lines count from the run's start on the real (monotonic) clock: `[t+S.mmms]`.
    let stamps: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[t+")?.split_once("s]").map(|(t, _)| t.replace('.', "").parse().unwrap()))
        .collect();
    assert!(stamps.len() > 3, "progress lines: {stderr}");
    // The stamps count from the machine's creation, a few ms before the runner's own start.
    assert!(stamps.iter().all(|ms| *ms <= duration + 1000), "{stamps:?} within {duration} ms");
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
}
