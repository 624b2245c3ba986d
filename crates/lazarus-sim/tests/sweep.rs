//! Many seeds, every fault mix, no invariant broken.

use lazarus_sim::{run_seeds_parallel, SimConfig};

#[test]
fn two_hundred_seeds_break_no_invariant() {
    let summary = run_seeds_parallel(0..200, &SimConfig::default(), 2);
    assert_eq!(summary.seeds, 200);
    let report: Vec<String> = summary
        .failures
        .iter()
        .flat_map(|f| {
            f.violations
                .iter()
                .map(move |v| format!("seed={} {v}\n{}", f.seed, f.event_log.render()))
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
    // The sweep must actually exercise recoveries, not idle.
    assert!(summary.totals.evacuations_done > 50, "{:?}", summary.totals);
    assert!(
        summary.totals.controller_crashes > 10,
        "{:?}",
        summary.totals
    );
}
