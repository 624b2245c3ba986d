//! A seed is a complete description of a run: replaying it gives the same log.

use lazarus_sim::{run_seed, SimConfig};

#[test]
fn a_replayed_seed_gives_the_identical_log_twice() {
    let config = SimConfig {
        full_log: true,
        ..SimConfig::default()
    };
    for seed in [1, 7, 42] {
        let a = run_seed(seed, &config);
        let b = run_seed(seed, &config);
        let la: Vec<&str> = a.event_log.lines().collect();
        let lb: Vec<&str> = b.event_log.lines().collect();
        assert!(la.len() > 10, "seed {seed} logged almost nothing");
        assert_eq!(la, lb, "seed {seed} replayed differently");
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.violations, b.violations);
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let config = SimConfig {
        full_log: true,
        ..SimConfig::default()
    };
    let a: Vec<String> = run_seed(1, &config)
        .event_log
        .lines()
        .map(str::to_owned)
        .collect();
    let b: Vec<String> = run_seed(2, &config)
        .event_log
        .lines()
        .map(str::to_owned)
        .collect();
    assert_ne!(a, b);
}
