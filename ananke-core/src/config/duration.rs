//! Human durations in the config (`"30s"`, `"5m"`, `"1h 30m"`).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::time::Duration;

/// A duration written as a human string such as `30s`, `5m` or `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// A duration of `secs` seconds.
    #[must_use]
    pub const fn secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The duration itself.
    #[must_use]
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `String::deserialize` then parse: an error raised inside the visitor is
        // located by the deserializer at the value itself, not at the enclosing mapping.
        d.deserialize_str(DurationVisitor)
    }
}

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as `30s`, `5m` or `1h 30m`")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<HumanDuration, E> {
        humantime::parse_duration(text).map(HumanDuration).map_err(|e| {
            E::custom(format!("invalid duration `{text}`: {e} (expected a duration such as `30s`, `5m` or `1h 30m`)"))
        })
    }
}

/// One or more `NUMBER UNIT` with humantime's units (what [`humantime::parse_duration`] reads).
const DURATION: &str = "^\\s*([0-9]+\\s*(nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)\\s*)+$";

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `30s`, `5m` or `1h 30m`.",
            "pattern": DURATION

        })
    }
}

#[cfg(test)]
mod tests {
    use super::HumanDuration;
    use std::time::Duration;

    #[test]
    fn human_strings_parse_and_print_back() {
        for (text, secs, printed) in
            [("30s", 30, "30s"), ("5m", 300, "5m"), ("1h 30m", 5400, "1h 30m"), ("90s", 90, "1m 30s")]
        {
            let d: HumanDuration = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(d, HumanDuration::secs(secs), "{text}");
            assert_eq!(d.get(), Duration::from_secs(secs));
            assert_eq!(HumanDuration::from(Duration::from_secs(secs)), d);
            assert_eq!(serde_json::to_value(d).unwrap(), printed);
        }
    }

    #[test]
    fn a_bad_duration_says_what_was_expected() {
        let err = serde_json::from_value::<HumanDuration>(serde_json::json!("5 fortnights")).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid duration `5 fortnights`: ")
                && err.ends_with("(expected a duration such as `30s`, `5m` or `1h 30m`)"),
            "{err}"
        );
        // A number is not a duration: the unit is required.
        let err = serde_json::from_value::<HumanDuration>(serde_json::json!(30)).unwrap_err().to_string();
        assert!(err.contains("expected a duration such as `30s`, `5m` or `1h 30m`"), "{err}");
    }

    #[test]
    fn the_schema_describes_a_string_with_units() {
        let schema = schemars::schema_for!(HumanDuration);
        let v = serde_json::to_value(&schema).unwrap();
        assert_eq!(v["type"], "string");
        assert_eq!(v["title"], "HumanDuration");
        assert!(v["pattern"].as_str().unwrap().contains("|minutes|"), "{v}");
    }
}
