//! Shell completions and man pages, generated from a clap command: the `completions` and `man`
//! subcommands of both `ananke` and `ananke-sim` (the Debian package ships their output).

use clap::{Args, Command};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use clap_complete::Shell;

/// `completions SHELL`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install for bash:
    /// `ananke completions bash > /usr/share/bash-completion/completions/ananke`.
    #[arg(value_enum)]
    pub shell: Shell,
}

impl CompletionsArgs {
    /// Write the completion script of `cmd` to `out`.
    ///
    /// # Errors
    /// `out` cannot be written.
    pub fn write(&self, mut cmd: Command, out: &mut dyn Write) -> io::Result<()> {
        let name = cmd.get_name().to_owned();
        let mut buffer = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, name, &mut buffer);
        out.write_all(&buffer)?;
        out.flush()
    }
}

/// `man [--dir DIR]`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write one page per command here (`ananke.1`, `ananke-startup.1`, ...) instead of printing
    /// the top page. Read one with `man -l DIR/ananke.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl ManArgs {
    /// Print the top page of `cmd` to `out`, or write every page to `--dir` and list them on `out`.
    ///
    /// # Errors
    /// A page cannot be written (the error names the file).
    pub fn write(&self, cmd: Command, out: &mut dyn Write) -> io::Result<()> {
        let mut cmd = cmd;
        cmd.build();
        match &self.dir {
            None => {
                let mut page = Vec::new();
                clap_mangen::Man::new(cmd).render(&mut page)?;
                out.write_all(&page)?;
            }
            Some(dir) => {
                for path in write_pages(&cmd, dir)? {
                    writeln!(out, "{}", path.display())?;
                }
            }
        }
        out.flush()
    }
}

/// Run `completions` or `man` for `cmd`, printing to stdout; an error is printed with `program`'s
/// name. The exit code: `ok`, or `failed` when the output cannot be written.
#[must_use]
pub fn exec(what: &Manual, cmd: Command, program: &str, (ok, failed): (u8, u8)) -> u8 {
    let mut stdout = io::stdout().lock();
    let written = match what {
        Manual::Completions(args) => args.write(cmd, &mut stdout),
        Manual::Man(args) => args.write(cmd, &mut stdout),
    };
    match written {
        Ok(()) => ok,
        // A closed pipe (`ananke man | head`) is the reader's choice.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ok,
        Err(e) => {
            eprintln!("{program}: {e}");
            failed
        }
    }
}

/// Which of the two.
#[derive(Debug, Clone)]
pub enum Manual {
    /// `completions SHELL`.
    Completions(CompletionsArgs),
    /// `man [--dir DIR]`.
    Man(ManArgs),
}

/// Every page of `cmd` (built) and its subcommands, in `dir`; the files written.
fn write_pages(cmd: &Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let named = |e: io::Error, path: &Path| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(|e| named(e, dir))?;
    let mut written = Vec::new();
    let mut stack = vec![cmd.clone()];
    while let Some(cmd) = stack.pop() {
        let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_owned();
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        std::fs::write(&path, page).map_err(|e| named(e, &path))?;
        written.push(path);
        stack.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help").cloned());
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Command {
        Command::new("tool")
            .about("A tool.")
            .subcommand(Command::new("run").about("Run it.").subcommand(Command::new("fast").about("Fast.")))
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn one_page_per_visible_command_and_the_top_page_alone_without_a_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut listed = Vec::new();
        ManArgs { dir: Some(dir.path().join("man1")) }.write(cmd(), &mut listed).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("man1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(names, ["tool-run-fast.1", "tool-run.1", "tool.1"]);
        assert_eq!(String::from_utf8(listed).unwrap().lines().count(), 3);
        let run = std::fs::read_to_string(dir.path().join("man1/tool-run.1")).unwrap();
        assert!(run.contains(".TH tool-run 1") && run.contains("Run it."), "{run}");
        let mut top = Vec::new();
        ManArgs { dir: None }.write(cmd(), &mut top).unwrap();
        assert!(String::from_utf8(top).unwrap().starts_with(".ie \\n(.g .ds Aq"));
    }

    #[test]
    fn a_dir_that_cannot_be_made_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = ManArgs { dir: Some(file.join("man1")) }.write(cmd(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().starts_with(&file.join("man1").display().to_string()), "{err}");
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut out = Vec::new();
        CompletionsArgs { shell: Shell::Bash }.write(cmd(), &mut out).unwrap();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("_tool()") && script.contains("run"), "{script}");
    }
}
