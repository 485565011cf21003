//! A limit on a whole test, so that a server or plugin that hangs fails the test instead of
//! hanging the suite.

use std::time::Duration;

/// Runs `test`, failing when it takes longer than `limit`.
pub async fn bounded<F: Future<Output = ()>>(limit: Duration, test: F) {
    tokio::time::timeout(limit, test)
        .await
        .expect("the test finished within its limit");
}
