//! Executing a batch of effects: bounded concurrency, a timeout per attempt, bounded retries with
//! exponential backoff for transient failures.

use super::{RunSettings, World};
use crate::effect::Effect;
use crate::machine::EffectOutcome;
use futures_util::stream::{self, StreamExt};
use std::time::Duration;

/// Retries of transient failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 4, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based).
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1_u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Execute every effect, at most `settings.concurrency` at once; outcomes in the input order.
pub(super) async fn execute_all<W: World>(
    world: &W,
    effects: Vec<Effect>,
    settings: &RunSettings,
) -> Vec<EffectOutcome> {
    stream::iter(&effects)
        .map(|effect| execute_one(world, effect, settings))
        .buffered(settings.concurrency.max(1))
        .collect()
        .await
}

async fn execute_one<W: World>(world: &W, effect: &Effect, settings: &RunSettings) -> EffectOutcome {
    let mut retry = 0;
    loop {
        let outcome = match tokio::time::timeout(settings.effect_timeout, world.execute(effect)).await {
            Ok(outcome) => outcome,
            Err(_) => EffectOutcome::Failed {
                transient: true,
                message: format!("timed out after {}s", settings.effect_timeout.as_secs()),
            },
        };
        let transient = matches!(outcome, EffectOutcome::Failed { transient: true, .. });
        if !transient || retry + 1 >= settings.retry.attempts {
            return outcome;
        }
        let wait = settings.retry.backoff(retry);
        world.sleep_until(world.now().plus(wait)).await;
        retry += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(350));
        assert_eq!(p.backoff(40), Duration::from_millis(350));
    }
}
