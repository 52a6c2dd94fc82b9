//! Prints the config `scripts/bench-daemon.sh` runs `ananke daemon` with: the simulated titan-lab's
//! own config, both power domains on the lab's dummy UPS (`dummy@127.0.0.1:3493`, user `monuser`,
//! password file `$ANANKE_BENCH_DIR/nut.password`; read through the driver's socket
//! `$ANANKE_BENCH_DRIVER_SOCKET` when it is set), a 1 s poll, and Vault shares from `printf`
//! (an explicit config makes the simulated world run the real share retrieval).

use ananke_core::config::{CommandSpec, HumanDuration, UnsealKeySource};
use std::path::PathBuf;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("ANANKE_BENCH_DIR")?);
    let mut config = ananke_sim::builtin("titan-lab")?.ananke_config();
    for domain in &mut config.power_domains {
        "dummy".clone_into(&mut domain.ups.name);
        "127.0.0.1".clone_into(&mut domain.ups.host);
        domain.ups.port = 3493;
        domain.ups.username = Some("monuser".to_owned());
        domain.ups.password_file = Some(dir.join("nut.password"));
        domain.ups.driver_socket = std::env::var_os("ANANKE_BENCH_DRIVER_SOCKET").map(PathBuf::from);
    }
    config.daemon.poll_interval = HumanDuration(Duration::from_secs(1));
    config.daemon.stable_for = HumanDuration::secs(5);
    config.daemon.min_battery_charge = 0;
    let shares = CommandSpec { argv: vec!["printf".into(), "s1\\ns2\\ns3\\n".into()], timeout: HumanDuration::secs(5) };
    if let Some(vault) = config.vault.as_mut() {
        vault.unseal_keys = UnsealKeySource::Command(shares);
    }
    print!("{}", serde_yaml_ng::to_string(&config)?);
    Ok(())
}
