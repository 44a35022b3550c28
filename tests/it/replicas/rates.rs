//! A client key's rate and token budget hold across every door: one gateway,
//! or two replicas counting together in Redis.

use std::time::Duration;

use crate::support::*;

use super::chat_as;

on_both! {
    /// Requests per minute: 4 for the key, whichever door they come in by.
    async fn requests_per_minute_hold_across_every_door(d) {
        let mock = Mock::start().await;
        let b = Gateway::builder(&mock).account("a").key("team", |k| k.rpm(4));
        let gws = d.start(b).await;
        let (mut ok, mut limited) = (0, 0);
        for i in 0..8 {
            match chat_as(gws.door(i), "team").await.0 {
                200 => ok += 1,
                429 => limited += 1,
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(
            (ok, limited),
            (4, 4),
            "4 per minute for every door together"
        );
        assert_eq!(mock.responses().len(), 4);
    }
}

on_both! {
    /// A token budget counts upstream's usage, whichever door served it.
    async fn token_budgets_count_across_every_door(d) {
        let mock = Mock::start().await;
        let b = Gateway::builder(&mock)
            .account("a")
            .key("dave", |k| k.tokens_per_hour(50));
        let gws = d.start(b).await;
        // 30 tokens an answer: one at each door spends the 50 between them
        // (replicas share their spending about every second).
        assert_eq!(chat_as(gws.door(0), "dave").await.0, 200);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(chat_as(gws.door(1), "dave").await.0, 200);
        tokio::time::sleep(Duration::from_millis(700)).await;
        for i in 0..2 {
            let (status, headers, text) = chat_as(gws.door(i), "dave").await;
            assert_eq!(status, 429, "{text}");
            assert!(text.contains("budget_exceeded"), "{text}");
            assert!(headers.contains_key("retry-after"));
        }
        assert_eq!(mock.responses().len(), 2);
    }
}
