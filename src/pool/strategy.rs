//! The three routing strategies, each an ordering of candidate accounts.
//!
//! A strategy never waits and never locks across `.await`: it orders the usable
//! accounts of one snapshot (O(accounts)), first choice first, and the request
//! walks that list until an account serves it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::Account;
use crate::config::Strategy;

/// Orders `usable` accounts for one request.
///
/// `file_order` holds indexes into `accounts` in file order, `by_priority` the same
/// sorted by priority (computed once per snapshot); `usable` says which may be tried.
pub fn order(
    strategy: Strategy,
    accounts: &[Arc<Account>],
    by_priority: &[usize],
    usable: impl Fn(&Account) -> bool,
    counter: &AtomicUsize,
) -> Vec<Arc<Account>> {
    let mut out: Vec<Arc<Account>> = Vec::with_capacity(accounts.len());
    match strategy {
        Strategy::PrimaryFirst => out.extend(accounts.iter().filter(|a| usable(a)).cloned()),
        Strategy::PriorityOrder => out.extend(
            by_priority
                .iter()
                .filter_map(|&i| accounts.get(i))
                .filter(|a| usable(a))
                .cloned(),
        ),
        Strategy::RoundRobin => {
            out.extend(accounts.iter().filter(|a| usable(a)).cloned());
            if !out.is_empty() {
                let start = counter.fetch_add(1, Ordering::Relaxed) % out.len();
                out.rotate_left(start);
            }
        }
    }
    out
}

/// Indexes of `priorities` sorted ascending, ties kept in file order.
pub fn priority_index(priorities: &[i64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..priorities.len()).collect();
    idx.sort_by_key(|&i| (priorities[i], i));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(names: &[&str]) -> Vec<Arc<Account>> {
        names
            .iter()
            .map(|n| Arc::new(Account::detached(n)))
            .collect()
    }

    fn names(list: &[Arc<Account>]) -> Vec<&str> {
        list.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn primary_first_keeps_file_order_and_skips_unusable() {
        let acc = accounts(&["a", "b", "c"]);
        let c = AtomicUsize::new(0);
        let got = order(Strategy::PrimaryFirst, &acc, &[0, 1, 2], |_| true, &c);
        assert_eq!(names(&got), ["a", "b", "c"]);
        let got = order(
            Strategy::PrimaryFirst,
            &acc,
            &[0, 1, 2],
            |a| a.name != "a",
            &c,
        );
        assert_eq!(names(&got), ["b", "c"]);
    }

    #[test]
    fn round_robin_rotates_evenly_over_usable_accounts() {
        let acc = accounts(&["a", "b", "c"]);
        let c = AtomicUsize::new(0);
        let mut firsts = Vec::new();
        for _ in 0..6 {
            let got = order(Strategy::RoundRobin, &acc, &[0, 1, 2], |_| true, &c);
            assert_eq!(got.len(), 3);
            firsts.push(got[0].name.clone());
        }
        assert_eq!(firsts, ["a", "b", "c", "a", "b", "c"]);
        let got = order(
            Strategy::RoundRobin,
            &acc,
            &[0, 1, 2],
            |a| a.name != "b",
            &c,
        );
        assert_eq!(got.len(), 2);
        assert!(!names(&got).contains(&"b"));
    }

    #[test]
    fn priority_order_sorts_by_priority_then_file_order() {
        let idx = priority_index(&[5, 1, 5, 0]);
        assert_eq!(idx, [3, 1, 0, 2]);
        let acc = accounts(&["a", "b", "c", "d"]);
        let c = AtomicUsize::new(0);
        let got = order(Strategy::PriorityOrder, &acc, &idx, |a| a.name != "b", &c);
        assert_eq!(names(&got), ["d", "a", "c"]);
    }
}
