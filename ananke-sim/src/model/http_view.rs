//! What the plain-HTTP facades ([`crate::endpoints`]) read and change in the model: which Vault
//! pods run and whether they are sealed, unsealing one pod once its facade has a threshold of
//! valid shares, the Git server's health, and whether each HTTP check's backing is up.
//!
//! Reads never advance the clock: the facade answers from the model as it stands (whoever owns
//! the clock moves it). `Model::apply(UnsealVault)` is untouched: it stays the simulated runner's
//! one-step unseal.

use super::parts::Phase;
use super::Model;

/// The Git server as its health endpoint sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitServerView {
    /// Its pods run (the health endpoint answers).
    pub running: bool,
    /// The components it depends on that are not up (its database, storage, ...).
    pub missing: Vec<String>,
}

impl Model {
    /// How many Vault pods run now (the first ones, as the Vault component places them).
    fn vault_running(&self) -> usize {
        self.vault_comp.map_or(0, |c| if self.comps[c].phase == Phase::Up { self.comps[c].pods.len() } else { 0 })
    }

    /// The Vault pods' names, in order.
    #[must_use]
    pub fn vault_pods(&self) -> Vec<String> {
        self.vault.iter().map(|p| p.name.clone()).collect()
    }

    /// The number of distinct shares that unseals a pod (`t`).
    #[must_use]
    pub fn vault_threshold(&self) -> u32 {
        self.vault_threshold
    }

    /// Whether Vault pod `pod` runs (its API answers, sealed or not).
    #[must_use]
    pub fn vault_pod_running(&self, pod: &str) -> bool {
        self.vault.iter().position(|p| p.name == pod).is_some_and(|i| i < self.vault_running())
    }

    /// Whether Vault pod `pod` is sealed; `None` for an unknown pod.
    #[must_use]
    pub fn vault_pod_sealed(&self, pod: &str) -> Option<bool> {
        self.vault.iter().find(|p| p.name == pod).map(|p| p.sealed)
    }

    /// Unseal the running pod `pod` (its facade has accepted a threshold of valid shares), and let
    /// what waits on Vault start. False when the pod is unknown or not running.
    pub fn unseal_vault_pod(&mut self, pod: &str) -> bool {
        if !self.vault_pod_running(pod) {
            return false;
        }
        if let Some(p) = self.vault.iter_mut().find(|p| p.name == pod) {
            p.sealed = false;
        }
        self.settle();
        true
    }

    /// Seal the running pod `pod`, as `vault operator seal` or a Vault process restart does (what
    /// waits on Vault stops being ready). False when the pod is unknown or not running.
    pub fn seal_vault_pod(&mut self, pod: &str) -> bool {
        if !self.vault_pod_running(pod) {
            return false;
        }
        if let Some(p) = self.vault.iter_mut().find(|p| p.name == pod) {
            p.sealed = true;
        }
        self.settle();
        true
    }

    /// The Git server, when the scenario has one.
    #[must_use]
    pub fn git_server_view(&self) -> Option<GitServerView> {
        let c = self.git_server?;
        let comp = &self.comps[c];
        Some(GitServerView {
            running: comp.phase == Phase::Up && !comp.pods.is_empty(),
            missing: comp
                .deps
                .iter()
                .filter(|&&d| !self.ready_for_dependents(d))
                .map(|&d| self.comps[d].name.clone())
                .collect(),
        })
    }

    /// Whether the ingress controller routes (true for a scenario without one).
    #[must_use]
    pub fn ingress_up(&self) -> bool {
        self.ingress_controller.is_none_or(|c| self.ready_for_dependents(c))
    }

    /// Whether check `name` passes now, exactly as an observation's probe says (what backs it is
    /// up, the ingress too for an external check, and no flap in progress); `None` when unknown.
    #[must_use]
    pub fn check_up(&self, name: &str) -> Option<bool> {
        let check = self.checks.iter().find(|c| c.name == name)?;
        let backed = (!check.external || self.ingress_up())
            && check.backers.iter().all(|b| b.map_or(self.api_up, |c| self.ready_for_dependents(c)));
        let flapping = match (check.flap, check.first_ok) {
            (Some((wait, len)), Some(ok)) => {
                let start = ok.as_millis() + wait;
                (start..start + len).contains(&self.now.as_millis())
            }
            _ => false,
        };
        Some(backed && !flapping)
    }
}
