//! Shutdown `Quiescing`: scaling down tier by tier, and waiting out an API blip.

use super::{shutdown, suspend_all};
use crate::machines::lab;
use crate::machines::startup::keys;
use crate::machines::world::secs;
use ananke_core::config::ShutdownMode;
use ananke_core::journal::Journal;
use ananke_core::machine::{Machine, ShutdownState};
use ananke_core::time::Time;
use std::sync::Arc;

#[test]
fn workloads_are_scaled_down_tier_by_tier_and_unlisted_ones_last() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::grafana()), 0);
    suspend_all(&mut obs);
    d.observe(&obs);
    // (every object was already suspended: an operator's, as far as this journal knows)
    assert_eq!(d.machine.journal().changes.already_suspended.len(), 4);
    assert_eq!(keys(&d.log.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()), ["scale:Deployment/apps/web=0"]);
    assert_eq!(d.machine.journal().changes.scaled.get(&lab::web()), Some(&3));
    assert!(d.machine.journal().changes.already_scaled_to_zero.contains(&lab::grafana()));

    let web = lab::workload_mut(&mut obs, &lab::web());
    web.spec_replicas = Some(0);
    web.status.replicas = 2;
    assert!(d.observe(&obs).is_empty(), "tier 0 still has pods");
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    assert_eq!(keys(&d.observe(&obs)), ["scale:StatefulSet/apps/db=0"]);
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::db()), 0);
    assert_eq!(
        keys(&d.observe(&obs)),
        ["scale:Deployment/gitea/gitea=0"],
        "excluded namespaces, DaemonSets and zeros skipped"
    );
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::gitea()), 0);
    d.observe(&obs);
    assert_eq!(d.machine.state(), ShutdownState::Draining);
    let scaled: Vec<_> = d.machine.journal().changes.scaled.iter().map(|(w, n)| (w.name.clone(), *n)).collect();
    assert_eq!(scaled, [("web".to_owned(), 3), ("gitea".to_owned(), 1), ("db".to_owned(), 1)]);
}

#[test]
fn a_tier_that_does_not_scale_down_in_time_is_reported_and_skipped() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    suspend_all(&mut obs);
    d.advance(secs(10));
    d.observe(&obs);
    assert_eq!(d.machine.poll_timeout(), Some(Time(310_000)));
    lab::workload_mut(&mut obs, &lab::web()).spec_replicas = Some(0);
    d.advance(secs(299));
    d.observe(&obs);
    d.advance(secs(1));
    assert!(d.machine.diagnostics().iter().any(|x| x.message.starts_with("tier 0 not scaled down in time")));
    assert_eq!(keys(&d.observe(&obs)), ["scale:StatefulSet/apps/db=0"]);
}

#[test]
fn an_api_blip_while_quiescing_is_waited_out_not_taken_for_an_empty_cluster() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    suspend_all(&mut obs);
    d.observe(&obs);
    let journal = d.machine.journal().clone();
    let mut blip = lab::all_down();
    blip.api.error = Some("i/o timeout".to_owned());
    for _ in 0..3 {
        assert!(d.observe(&blip).is_empty());
    }
    assert_eq!(d.machine.state(), ShutdownState::Quiescing);
    assert_eq!(d.machine.journal(), &journal);
    let waiting: Vec<_> = d.machine.diagnostics().iter().filter(|x| x.message.contains("i/o timeout")).collect();
    assert_eq!(waiting.len(), 1, "recorded once");
    assert!(d.observe(&obs).is_empty(), "web still in flight");
}

#[test]
fn an_ordered_workload_goes_as_soon_as_what_it_waits_for_is_stopped_not_the_whole_tier() {
    use ananke_core::config::StopAfter;
    let order = |with_order: bool| {
        lab::config_with(|c| {
            c.shutdown.tiers = vec![vec![lab::web(), lab::grafana()], vec![lab::db()]];
            if with_order {
                c.shutdown.order = vec![StopAfter { workload: lab::db(), after: vec![lab::web()] }];
            }
        })
    };
    let mut obs = lab::healthy();
    suspend_all(&mut obs);
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    // grafana is scaled to 0 but its pods are still terminating: tier 0 is not done.
    let grafana = lab::workload_mut(&mut obs, &lab::grafana());
    grafana.spec_replicas = Some(0);
    grafana.status.replicas = 1;

    let mut ordered = shutdown(order(true), Journal::default(), ShutdownMode::ClusterOnly);
    assert_eq!(keys(&ordered.observe(&obs)), ["scale:StatefulSet/apps/db=0"], "db waits for web only");
    assert_eq!(ordered.machine.journal().changes.scaled.get(&lab::db()), Some(&1), "journaled before it is asked for");

    let mut tiered = shutdown(order(false), Journal::default(), ShutdownMode::ClusterOnly);
    assert!(keys(&tiered.observe(&obs)).is_empty(), "without an order, db waits for the whole of tier 0");
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::grafana()), 0);
    assert_eq!(keys(&tiered.observe(&obs)), ["scale:StatefulSet/apps/db=0"]);
}
