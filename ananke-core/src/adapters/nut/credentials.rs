//! NUT credentials: a user and the password read from its file, which no output ever shows.

use super::NutError;
use crate::config::Ups;
use std::fmt;
use std::path::Path;

/// A NUT user and its password. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl Credentials {
    /// A user and its password.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self { username: username.into(), password: password.into() }
    }

    /// The credentials a configured UPS names: `None` without a user; the password is read from
    /// `password_file` (its trailing line break dropped). Errors name the file, never its content.
    ///
    /// # Errors
    /// [`NutError::Credentials`] when only one of `username` and `password_file` is set, or when
    /// the file cannot be read or is empty.
    pub fn from_ups(ups: &Ups) -> Result<Option<Self>, NutError> {
        match (&ups.username, &ups.password_file) {
            (None, None) => Ok(None),
            (Some(user), Some(file)) => Ok(Some(Self::new(user.clone(), read_password(file)?))),
            (Some(user), None) => {
                Err(NutError::Credentials(format!("UPS {:?}: user {user:?} has no password_file", ups.name)))
            }
            (None, Some(_)) => {
                Err(NutError::Credentials(format!("UPS {:?}: password_file set without a username", ups.name)))
            }
        }
    }

    /// The NUT user name.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for the `PASSWORD` request only.
    pub(super) fn password(&self) -> &str {
        &self.password
    }
}

fn read_password(file: &Path) -> Result<String, NutError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| NutError::Credentials(format!("cannot read password file {}: {e}", file.display())))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(NutError::Credentials(format!("password file {} is empty", file.display())));
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ups(username: Option<&str>, password_file: Option<&Path>) -> Ups {
        Ups {
            name: "dummy".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 3493,
            username: username.map(str::to_owned),
            password_file: password_file.map(Path::to_owned),
            driver_socket: None,
        }
    }

    #[test]
    fn the_password_comes_from_its_file_without_the_line_break() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("nut.password");
        std::fs::write(&file, "pass word\r\n").expect("write");
        let creds = Credentials::from_ups(&ups(Some("monuser"), Some(&file))).expect("readable").expect("configured");
        assert_eq!((creds.username(), creds.password()), ("monuser", "pass word"));
        assert!(!format!("{creds:?}").contains("pass word"));
        assert!(Credentials::from_ups(&ups(None, None)).expect("none").is_none());
    }

    #[test]
    fn misconfigured_credentials_are_errors_that_name_no_secret() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let missing = dir.path().join("missing");
        let cases = [
            (Some("monuser"), None),
            (None, Some(empty.as_path())),
            (Some("monuser"), Some(empty.as_path())),
            (Some("monuser"), Some(missing.as_path())),
        ];
        for (user, file) in cases {
            let err = Credentials::from_ups(&ups(user, file)).expect_err("misconfigured");
            assert!(matches!(err, NutError::Credentials(_)) && !err.is_transient(), "{err}");
        }
    }
}
