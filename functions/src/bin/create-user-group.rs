//! The Lambda function behind `POST /api/user`.

use inflow::{handlers::user_groups::create_user_group, App};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    inflow::telemetry::init();
    // Clients and the hashing key are made once per container, before the first event.
    let app = App::from_env().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(create_user_group(app, req).await) })).await
}
