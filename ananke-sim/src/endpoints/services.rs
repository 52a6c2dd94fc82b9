//! The scenario's service and critical endpoints, the ingress in front of the external ones, and
//! the Git server's health endpoint (Gitea `GET /api/healthz`, reference §5.2).

use super::server::{Call, Reply};
use super::{with, ModelAccess};
use serde_json::json;

/// One check's endpoint: `200` with a body while what backs it is up, `503` otherwise.
pub(crate) fn check(model: &dyn ModelAccess, name: &str) -> Reply {
    if with(model, |m| m.check_up(name)) == Some(true) {
        Reply::Text(200, format!("{name} ok\n"))
    } else {
        Reply::Text(503, format!("{name}: service unavailable\n"))
    }
}

/// An external check's route: the host its URL names and the path it requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// Lowercased host.
    pub host: String,
    /// Path (without query).
    pub path: String,
    /// Check name.
    pub check: String,
}

/// The ingress: routes by `Host` (and path, when two checks share a host) to a check, like the
/// cluster's ingress controller. An unknown host gets the controller's `404`; backends that are
/// down get `503`. While the ingress controller is down the port hangs up.
pub(crate) fn ingress(model: &dyn ModelAccess, routes: &[Route], call: &Call) -> Reply {
    if !with(model, |m| m.ingress_up()) {
        return Reply::HangUp;
    }
    let host = call.host.as_deref().unwrap_or_default();
    let for_host = || routes.iter().filter(|r| r.host == host);
    let route = for_host().find(|r| r.path == call.path).or_else(|| for_host().next());
    match route {
        Some(r) => check(model, &r.check),
        None => Reply::Text(404, "404 page not found\n".to_owned()),
    }
}

/// Gitea's health: `pass` with a database check while the Git server and what it needs are up,
/// `424` naming the failed dependency when one is down, no answer while its pods do not run.
pub(crate) fn gitea(model: &dyn ModelAccess, call: &Call) -> Reply {
    let Some(view) = with(model, |m| m.git_server_view()).filter(|v| v.running) else {
        return Reply::HangUp;
    };
    if call.path != "/api/healthz" {
        return Reply::Text(404, "Not found.\n".to_owned());
    }
    let time = "2026-01-01T00:00:00Z";
    let pass = json!([{"status": "pass", "time": time}]);
    if view.missing.is_empty() {
        let body = json!({
            "status": "pass", "description": "Gitea: Git with a cup of tea",
            "checks": {"database:ping": pass, "cache:ping": pass},
        });
        return Reply::Json(200, body.to_string());
    }
    let output = format!("{} not available", view.missing.join(", "));
    let body = json!({
        "status": "fail", "description": "Gitea: Git with a cup of tea",
        "checks": {"database:ping": [{"status": "fail", "time": time, "output": output}], "cache:ping": pass},
    });
    Reply::Json(424, body.to_string())
}
