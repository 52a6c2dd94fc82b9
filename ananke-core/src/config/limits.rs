//! The limits validation enforces that a JSON Schema can express too, as patterns the model's
//! `#[schemars(...)]` attributes put in the schema (`ananke config schema`). Validation stays the
//! authority (its messages name the fix); these let an editor refuse the same values as you type.

/// An RFC 1123 DNS subdomain: a Kubernetes node name.
pub(crate) const NODE_NAME: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// An IP address or a host name, never beginning with `-`.
pub(crate) const ADDRESS: &str = r"^[0-9A-Za-z.:]+(-+[0-9A-Za-z.:]+)*$";
/// A NUT UPS name: one protocol word, not `default`.
pub(crate) const UPS_NAME: &str = r"^(?!default$)[A-Za-z0-9_.][A-Za-z0-9_.-]*$";
/// Something other than blanks (where validation trims).
pub(crate) const NON_BLANK: &str = r"\S";
/// An absolute path.
pub(crate) const ABSOLUTE: &str = r"^/";
/// An `http://` or `https://` URL with a host (schemes in any case, leading blanks allowed: what
/// the URL parser accepts; JSON Schema patterns have no case-insensitive flag).
pub(crate) const HTTP_URL: &str = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^/\s]";
/// A Git URL Flux can fetch: `http://`, `https://` or `ssh://`, with a host.
pub(crate) const GIT_URL: &str = r"^\s*([Hh][Tt][Tt][Pp][Ss]?|[Ss][Ss][Hh])://[^/\s]";
/// `host:port`: something, a colon, a port number (validation then checks the port's range).
pub(crate) const HOST_PORT: &str = r"^.+:\+?[0-9]+$";

// Schema limits must never be stricter than validation: `config_corpus/valid-at-the-limits.yaml`
// holds values validation accepts right at them, and the schema test has the schema accept it.
