//! Helpers shared by the CLI tests.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The `ananke` binary with a clean environment for deterministic output.
pub fn ananke() -> Command {
    let mut cmd = Command::cargo_bin("ananke").expect("ananke binary is built");
    cmd.env_remove("ANANKE_CONFIG").env_remove("ANANKE_STATE_DIR").env("COLUMNS", "100");
    cmd
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crate has a parent").to_owned()
}

/// Run `ananke ARGS --sim titan-lab --state-dir DIR`, returning (exit code, stdout, stderr).
pub fn sim(dir: &Path, args: &[&str]) -> (i32, String, String) {
    sim_named(dir, "titan-lab", args)
}

/// Run `ananke ARGS --sim SCENARIO --state-dir DIR`, returning (exit code, stdout, stderr).
pub fn sim_named(dir: &Path, scenario: &str, args: &[&str]) -> (i32, String, String) {
    let out = ananke().args(args).args(["--sim", scenario, "--state-dir"]).arg(dir).output().expect("ananke runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shape of a JSON value: keys kept, scalars replaced by their type, arrays by the shape of
/// their first element. Golden tests pin shapes, not values that change every run.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("null".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::String(_) => Value::String("string".into()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Read a JSON file.
/// Parse `text` as JSON, panicking with the text when it is not.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A live process holding the run lock of `state` as a run holds it (util-linux `flock`: the
/// kernel's lock, on the same file), with the lock file naming it as `run` running `command`.
/// Killed on drop, and the lock goes with it.
pub struct LockHeld(std::process::Child);

impl LockHeld {
    pub fn start(state: &Path, run: &str, command: &str) -> LockHeld {
        use ananke_core::store::lock::{held, LockHolder, LOCK_FILE};
        std::fs::create_dir_all(state).unwrap();
        let path = state.join(LOCK_FILE);
        // The shell takes the lock on its own descriptor (its `sleep`s do not inherit it): one
        // process holds it, and its end releases it. Like a run, it takes a moment to stop on
        // SIGTERM (its sleep ends first); SIGKILL ends it at once.
        let script = r#"exec 9>>"$1" && flock -x 9 && trap 'exit 0' TERM && while :; do sleep 0.3 9>&-; done"#;
        let child = std::process::Command::new("sh")
            .args(["-c", script, "lock-holder"])
            .arg(&path)
            // Its last `sleep` may outlive a SIGKILLed shell by 0.3 s: it must not hold the
            // test's output open (nextest would call the test leaky).
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sh and flock (util-linux) run");
        let held_lock = LockHeld(child);
        let start = std::time::Instant::now();
        while held(state).is_none() {
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "flock never took {}", path.display());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let holder = LockHolder {
            pid: held_lock.pid(),
            run_id: run.into(),
            command: command.into(),
            since: "2026-11-23T00:00:00Z".into(),
            boot_id: ananke_core::store::lock::boot_id(),
        };
        std::fs::write(&path, serde_json::to_vec_pretty(&holder).unwrap()).unwrap();
        held_lock
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Ends the holder (as a run killed with SIGKILL): the kernel drops its lock, its name stays.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for LockHeld {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether no run holds the lock of `state` and the lock file names nobody.
pub fn lock_released(state: &Path) -> bool {
    ananke_core::store::lock::held(state).is_none() && ananke_core::store::lock::read_holder(state).is_none()
}
