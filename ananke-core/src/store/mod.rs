//! The state dir (`/var/lib/ananke`): journal, progress, reports, run history, traces, lock.
//!
//! File I/O lives here, behind the `store` feature, so the pure core stays free of it.

pub mod atomic;
pub mod compare;
pub mod config_file;
pub mod lock;
pub mod reports;

use crate::journal::{Journal, JOURNAL_VERSION};
use atomic::{ensure_dir, write_json, JOURNAL_MODE, REPORT_MODE};
use reports::{Command, Progress, RunHistory, RunReport, REPORT_HISTORY};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file exists but is not what ananke wrote.
    #[error("{path}: damaged or foreign file: {message}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The state dir and the names of the files in it.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state dir at `root` (not created until something is written).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `journal.json` (0600).
    #[must_use]
    pub fn journal_path(&self) -> PathBuf {
        self.root.join("journal.json")
    }

    /// `startup-progress.json`.
    #[must_use]
    pub fn progress_path(&self) -> PathBuf {
        self.root.join("startup-progress.json")
    }

    /// `last-startup-report.json` or `last-shutdown-report.json`.
    #[must_use]
    pub fn last_report_path(&self, command: Command) -> PathBuf {
        self.root.join(format!("last-{}-report.json", command.as_str()))
    }

    /// `reports/`.
    #[must_use]
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// `reports/<run-id>.json`.
    #[must_use]
    pub fn report_path(&self, run_id: &str) -> PathBuf {
        self.reports_dir().join(format!("{run_id}.json"))
    }

    /// `reports/<run-id>.trace.jsonl`.
    #[must_use]
    pub fn trace_path(&self, run_id: &str) -> PathBuf {
        self.reports_dir().join(format!("{run_id}.trace.jsonl"))
    }

    /// `daemon-status.json`.
    #[must_use]
    pub fn daemon_status_path(&self) -> PathBuf {
        self.root.join("daemon-status.json")
    }

    /// Write `daemon-status.json`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_daemon_status(&self, status: &reports::DaemonStatus) -> Result<(), StoreError> {
        let path = self.daemon_status_path();
        write_json(&path, status, REPORT_MODE).map_err(Self::io(&path))
    }

    /// The daemon's status, if it wrote one.
    ///
    /// # Errors
    /// I/O errors or a damaged file.
    pub fn read_daemon_status(&self) -> Result<Option<reports::DaemonStatus>, StoreError> {
        Self::read_json(&self.daemon_status_path())
    }

    /// `runs.json`.
    #[must_use]
    pub fn runs_path(&self) -> PathBuf {
        self.root.join("runs.json")
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |source| StoreError::Io { path: path.to_owned(), source }
    }

    /// Create the state dir and `reports/` if missing.
    ///
    /// # Errors
    /// I/O errors.
    pub fn ensure(&self) -> Result<(), StoreError> {
        ensure_dir(&self.root).map_err(Self::io(&self.root))?;
        let reports = self.reports_dir();
        ensure_dir(&reports).map_err(Self::io(&reports))
    }

    fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
        match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Damaged { path: path.to_owned(), message: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path: path.to_owned(), source }),
        }
    }

    /// The journal, or an empty one if none exists.
    ///
    /// # Errors
    /// I/O errors, a damaged file, or a journal of an unknown version.
    pub fn read_journal(&self) -> Result<Journal, StoreError> {
        let path = self.journal_path();
        let journal: Journal = Self::read_json(&path)?.unwrap_or_default();
        if journal.version != JOURNAL_VERSION {
            return Err(StoreError::Damaged {
                path,
                message: format!("journal version {} is not the supported version {JOURNAL_VERSION}", journal.version),
            });
        }
        Ok(journal)
    }

    /// Persist the journal (atomic, fsynced, 0600).
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_journal(&self, journal: &Journal) -> Result<(), StoreError> {
        let path = self.journal_path();
        write_json(&path, journal, JOURNAL_MODE).map_err(Self::io(&path))
    }

    /// Write `startup-progress.json`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_progress(&self, progress: &Progress) -> Result<(), StoreError> {
        let path = self.progress_path();
        write_json(&path, progress, REPORT_MODE).map_err(Self::io(&path))
    }

    /// The live progress, if any.
    ///
    /// # Errors
    /// I/O errors or a damaged file.
    pub fn read_progress(&self) -> Result<Option<Progress>, StoreError> {
        Self::read_json(&self.progress_path())
    }

    /// Write a finished run's report (history and `last-*-report.json`), prune old history, and
    /// append it to `runs.json`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_report(&self, report: &RunReport) -> Result<PathBuf, StoreError> {
        self.ensure()?;
        let path = self.report_path(&report.run_id);
        write_json(&path, report, REPORT_MODE).map_err(Self::io(&path))?;
        let last = self.last_report_path(report.command);
        write_json(&last, report, REPORT_MODE).map_err(Self::io(&last))?;
        let mut history = self.read_runs()?;
        history.push(reports::RunSummary::of(report));
        let runs = self.runs_path();
        write_json(&runs, &history, REPORT_MODE).map_err(Self::io(&runs))?;
        self.prune_reports()?;
        Ok(path)
    }

    /// `runs.json`, or an empty history.
    ///
    /// # Errors
    /// I/O errors or a damaged file.
    pub fn read_runs(&self) -> Result<RunHistory, StoreError> {
        Ok(Self::read_json(&self.runs_path())?.unwrap_or_default())
    }

    /// The report of `run_id`.
    ///
    /// # Errors
    /// I/O errors or a damaged file.
    pub fn read_report(&self, run_id: &str) -> Result<Option<RunReport>, StoreError> {
        Self::read_json(&self.report_path(run_id))
    }

    /// The last report of `command`.
    ///
    /// # Errors
    /// I/O errors or a damaged file.
    pub fn read_last_report(&self, command: Command) -> Result<Option<RunReport>, StoreError> {
        Self::read_json(&self.last_report_path(command))
    }

    /// Run ids with a report in `reports/`, oldest first (run ids sort by start time).
    ///
    /// # Errors
    /// I/O errors.
    pub fn list_reports(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.reports_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Io { path: dir, source }),
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .filter_map(|n| {
                n.strip_suffix(".json")
                    .filter(|s| Path::new(s).extension().is_none_or(|e| e != "trace"))
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn prune_reports(&self) -> Result<(), StoreError> {
        let ids = self.list_reports()?;
        if ids.len() <= REPORT_HISTORY {
            return Ok(());
        }
        for id in &ids[..ids.len() - REPORT_HISTORY] {
            for path in [self.report_path(id), self.trace_path(id)] {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(StoreError::Io { path, source }),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
