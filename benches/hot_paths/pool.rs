//! Account selection: `Pool::plan` (the candidate list one request walks) for
//! 1, 16 and 128 usable accounts under each strategy.
//!
//! `plan` reads tokio's clock, which outside a runtime (and with the clock never
//! paused) is the system's monotonic clock, so no runtime is needed here.

use std::hint::black_box;
use std::sync::Arc;

use codex_pool::auth::file::Credentials;
use codex_pool::config::Strategy;
use codex_pool::pool::{Account, Pool};
use codex_pool::secret::Secret;
use criterion::{BenchmarkId, Criterion};

fn account(i: usize) -> Arc<Account> {
    let a = Account::detached(&format!("account-{i}"));
    a.tokens.set_credentials(Credentials {
        access_token: Secret::new(format!("access-{i}")),
        refresh_token: Secret::new(format!("refresh-{i}")),
        account_id: Some(format!("acct-{i}")),
        email: None,
        plan: Some("pro".into()),
        expires_at: None,
        last_refresh: None,
        issued_at: None,
        header_cache: Default::default(),
    });
    Arc::new(a)
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_plan");
    for n in [1, 16, 128] {
        let pool = Pool::new((0..n).map(account).collect(), None);
        for strategy in [
            Strategy::PrimaryFirst,
            Strategy::RoundRobin,
            Strategy::PriorityOrder,
        ] {
            let plan = pool.plan(strategy, None).expect("usable accounts");
            assert_eq!(plan.len(), n, "every account is a candidate");
            g.bench_with_input(BenchmarkId::new(strategy.as_str(), n), &pool, |b, p| {
                b.iter(|| p.plan(black_box(strategy), None).map(|l| l.len()))
            });
        }
    }
    g.finish();
}
