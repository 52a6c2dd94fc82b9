//! How inputs are written in a trace line: like [`Input`], plus `observed-delta`, an observation
//! written as the sections that changed since the previous observation of the trace (most
//! observations repeat the one before, so traces stay small and replays fast).

use crate::machine::{EffectOutcome, Input};
use crate::observation::{
    ApiStatus, FluxObservation, GitServerHealth, IngressObservation, NodeObservation, Observation, PodToEvict,
    ProbeResult, UpsStatus, VaultStatus, Workload,
};
use crate::time::Time;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// An input as a trace line holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "kebab-case")]
pub(crate) enum WireInput {
    /// A whole observation ([`Input::Observed`]).
    Observed(Box<Observation>),
    /// An observation as its changes since the previous observation of the trace.
    ObservedDelta(Box<ObservationDelta>),
    /// [`Input::EffectDone`].
    EffectDone {
        /// The effect's key.
        key: String,
        /// What happened.
        outcome: EffectOutcome,
    },
    /// [`Input::Tick`].
    Tick,
}

/// `Some(None)` for an explicit `null`, so "unchanged" (absent) and "now absent" differ.
#[allow(clippy::option_option)]
fn changed<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The sections of an observation that differ from the previous one; absent means unchanged.
/// `Option<Option<_>>` on purpose: absent (unchanged) and `null` (now absent) differ.
#[allow(clippy::option_option)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ObservationDelta {
    pub at: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeObservation>>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "changed")]
    pub flux: Option<Option<FluxObservation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workloads: Option<Vec<Workload>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods_to_evict: Option<Vec<PodToEvict>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingresses: Option<Vec<IngressObservation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<BTreeMap<String, ProbeResult>>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "changed")]
    pub git_server: Option<Option<GitServerHealth>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<Vec<VaultStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<Vec<UpsStatus>>,
}

/// Apply `f` to every section: `$m!(field)` for each field of [`Observation`] but `at`.
macro_rules! sections {
    ($m:ident) => {
        $m!(api);
        $m!(nodes);
        $m!(flux);
        $m!(workloads);
        $m!(pods_to_evict);
        $m!(ingresses);
        $m!(probes);
        $m!(git_server);
        $m!(vault);
        $m!(power);
    };
}

impl ObservationDelta {
    /// What changed from `last` to `now`; `last` becomes a copy of `now`.
    pub(crate) fn diff(last: &mut Observation, now: &Observation) -> Self {
        // Names every field, so a new section of `Observation` cannot be forgotten here.
        let Observation {
            at,
            api: _,
            nodes: _,
            flux: _,
            workloads: _,
            pods_to_evict: _,
            ingresses: _,
            probes: _,
            git_server: _,
            vault: _,
            power: _,
        } = now;
        let mut delta = ObservationDelta { at: *at, ..ObservationDelta::default() };
        last.at = *at;
        macro_rules! diff {
            ($f:ident) => {
                if last.$f != now.$f {
                    last.$f.clone_from(&now.$f);
                    delta.$f = Some(now.$f.clone());
                }
            };
        }
        sections!(diff);
        delta
    }

    /// Apply the changes to `obs` (the previous observation), moving them in.
    pub(crate) fn apply(self, obs: &mut Observation) {
        obs.at = self.at;
        macro_rules! apply {
            ($f:ident) => {
                if let Some(v) = self.$f {
                    obs.$f = v;
                }
            };
        }
        sections!(apply);
    }
}

impl WireInput {
    /// The wire form of `input`, as a delta against `last` when there is a last observation.
    /// Updates `last`.
    pub(crate) fn encode(input: &Input, last: &mut Option<Observation>) -> WireInput {
        match input {
            Input::Observed(obs) => {
                if let Some(prev) = last {
                    WireInput::ObservedDelta(Box::new(ObservationDelta::diff(prev, obs)))
                } else {
                    *last = Some(Observation::clone(obs));
                    WireInput::Observed(obs.clone())
                }
            }
            Input::EffectDone { key, outcome } => WireInput::EffectDone { key: key.clone(), outcome: outcome.clone() },
            Input::Tick => WireInput::Tick,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::ConditionStatus;

    #[test]
    fn deltas_carry_only_changed_sections_and_rebuild_the_observation() {
        let mut first = Observation::default();
        first.api.reachable = true;
        first.git_server = Some(GitServerHealth { healthy: true, reason: None });
        let mut second = first.clone();
        second.at = Time(5);
        second.git_server = None;
        second.nodes.push(NodeObservation { name: "n".into(), ..NodeObservation::default() });
        let mut last = None;
        let w1 = WireInput::encode(&Input::Observed(Box::new(first.clone())), &mut last);
        assert!(matches!(w1, WireInput::Observed(_)));
        let w2 = WireInput::encode(&Input::Observed(Box::new(second.clone())), &mut last);
        let text = serde_json::to_string(&w2).unwrap();
        assert_eq!(
            text,
            r#"{"input":"observed-delta","at":5,"nodes":[{"name":"n","ssh":{"state":"unknown"},"k3s_unit":"unknown","kube":null}],"git_server":null}"#
        );
        let WireInput::ObservedDelta(back) = serde_json::from_str::<WireInput>(&text).unwrap() else { panic!() };
        let mut rebuilt = first.clone();
        back.apply(&mut rebuilt);
        assert_eq!(rebuilt, second);
        let _ = ConditionStatus::True;
    }

    #[test]
    fn other_inputs_keep_the_machine_input_encoding() {
        for input in [Input::Tick, Input::EffectDone { key: "k".into(), outcome: EffectOutcome::Ok }] {
            let wire = serde_json::to_string(&WireInput::encode(&input, &mut None)).unwrap();
            assert_eq!(wire, serde_json::to_string(&input).unwrap());
        }
    }
}
