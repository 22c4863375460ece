//! The yardstick: a hello-world `lambda_runtime` function, built with the same profile as every
//! function, so `make bench` can report each function's init time and memory as a ratio to it.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
