//! The call counter (tests/src/lib.rs) that the cost tests and `make bench` read: calls by
//! operation, and the time they waited for their responses ("handler ÷ its I/O wait").

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use inflow_tests::Env;

#[tokio::test]
async fn counts_each_call_and_the_time_it_waited_within_the_time_it_took() {
    let env = Env::new().await;
    let (app, ddb_calls) = env.counted();
    let get = || {
        app.table
            .client()
            .get_item()
            .table_name(&app.config.table_name)
            .key("PK", AttributeValue::S("NOBODY".into()))
            .key("SK", AttributeValue::S("NOBODY".into()))
            .send()
    };

    let started = Instant::now();
    for _ in 0..3 {
        get().await.unwrap();
    }
    let took = started.elapsed();
    assert_eq!(ddb_calls.count("GetItem"), 3);
    assert_eq!(ddb_calls.total(), 3);
    // One call at a time: each wait lies inside the time the three took.
    let waited = ddb_calls.waited();
    assert!(waited > Duration::ZERO, "{waited:?}");
    assert!(waited <= took, "{waited:?} waited in {took:?}");

    ddb_calls.reset();
    assert_eq!((ddb_calls.total(), ddb_calls.waited()), (0, Duration::ZERO));
    get().await.unwrap();
    assert_eq!(ddb_calls.count("GetItem"), 1);
    assert!(ddb_calls.waited() > Duration::ZERO);
}
