//! `ananke-sim serve`'s control endpoint, through which the hosts' commands reach the model, and
//! the `endpoints.json` that tells clients where everything is.

use crate::http_adapters::servers::raw;
use crate::serve::{options, start};
use ananke_core::Time;
use ananke_sim::serve::control::EndpointsFile;
use ananke_sim::serve::{ServeOptions, Server};
use ananke_sim::Scenario;
use std::time::Duration;

async fn call(server: &Server, method: &str, path: &str) -> (u16, String) {
    let base = server.control_url().trim_end_matches("/control");
    raw(base, method, path, "").await.expect("the control endpoint answers")
}

async fn k3s(server: &Server, node: &str) -> String {
    let (status, body) = call(server, "GET", &format!("/control/nodes/{node}/k3s")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn endpoints_json_says_where_everything_is() {
    let lab = start("titan-lab", options()).await;
    let text = std::fs::read_to_string(lab.dir.path().join("endpoints.json")).unwrap();
    let file: EndpointsFile = serde_json::from_str(&text).unwrap();
    assert_eq!(file, EndpointsFile::new(lab.server.endpoints(), lab.server.control_url()));
    assert!(file.control_url.starts_with("http://127.0.0.1:") && file.control_url.ends_with("/control"));
    assert!(!file.vault_addresses.is_empty() && !file.service_urls.is_empty(), "{text}");
    assert!(file.unseal_threshold > 0 && file.unseal_shares.len() >= file.unseal_threshold as usize, "{text}");
}

#[tokio::test]
async fn k3s_stop_start_and_killall_change_the_unit_in_model_time() {
    let lab = start("titan-lab", options()).await;
    let server = &lab.server;
    assert_eq!(k3s(server, "titan-24").await, "active\n");
    assert_eq!(call(server, "POST", "/control/nodes/titan-24/k3s/stop").await, (200, "ok\n".to_owned()));
    // Stopping takes model time; the clock is stopped until the test moves it.
    assert_eq!(k3s(server, "titan-24").await, "active\n");
    server.advance(Time(60_000));
    assert_eq!(k3s(server, "titan-24").await, "inactive\n");
    assert_eq!(call(server, "POST", "/control/nodes/titan-24/k3s/start").await, (200, "ok\n".to_owned()));
    assert_eq!(k3s(server, "titan-24").await, "active\n", "starting counts as active, as systemd says");
    assert_eq!(call(server, "POST", "/control/nodes/titan-03/k3s/killall").await, (200, "ok\n".to_owned()));
    server.advance(Time(120_000));
    assert_eq!(k3s(server, "titan-03").await, "inactive\n");
    assert_eq!(k3s(server, "titan-24").await, "active\n");
}

#[tokio::test]
async fn poweroff_makes_the_host_unreachable_and_commands_fail_transiently() {
    let lab = start("titan-lab", options()).await;
    let server = &lab.server;
    assert_eq!(call(server, "POST", "/control/nodes/titan-jh/poweroff").await, (200, "ok\n".to_owned()));
    assert_eq!(k3s(server, "titan-jh").await, "unknown\n");
    let (status, body) = call(server, "POST", "/control/nodes/titan-jh/k3s/start").await;
    assert_eq!((status, body.as_str()), (503, "ssh: connect to host titan-jh port 22: No route to host\n"));
}

#[tokio::test]
async fn a_host_refusing_ssh_answers_409() {
    let text = "base: titan-lab\nname: auth\nfaults:\n  - !ssh-auth-fails { node: titan-05 }\n";
    let scenario = Scenario::parse(text, "auth.yaml").unwrap();
    let server = Server::start(scenario, ServeOptions { dir: None, ..options() }).await.unwrap();
    let (status, body) = call(&server, "POST", "/control/nodes/titan-05/k3s/stop").await;
    assert_eq!(
        (status, body.as_str()),
        (409, "node titan-05: titan-05:22 refused public key authentication as ananke\n")
    );
    assert_eq!(k3s(&server, "titan-05").await, "unknown\n");
    assert_eq!(call(&server, "POST", "/control/nodes/titan-04/k3s/stop").await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_nodes_paths_and_methods_are_404() {
    let lab = start(
        "titan-lab",
        ServeOptions { speed: 0.0, bookmark_every: Duration::from_secs(30), ..ServeOptions::default() },
    )
    .await;
    let server = &lab.server;
    assert_eq!(
        call(server, "POST", "/control/nodes/titan-99/k3s/start").await,
        (404, "unknown node titan-99\n".to_owned())
    );
    for (method, path) in [
        ("DELETE", "/control/nodes/titan-01/k3s"),
        ("GET", "/control/nodes/titan-01/k3s/start"),
        ("POST", "/control/nodes/titan-01/reboot"),
        ("GET", "/control/nodes"),
        ("GET", "/elsewhere"),
    ] {
        assert_eq!(call(server, method, path).await, (404, "not found\n".to_owned()), "{method} {path}");
    }
    assert_eq!(k3s(server, "titan-01").await, "active\n", "nothing changed");
}
