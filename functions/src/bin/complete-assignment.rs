//! The Lambda function behind `POST /v1/assignments/{assignmentId}/complete`.

use inflow::{handlers::assignments::complete_assignment, App};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    inflow::telemetry::init();
    // Clients and the hashing key are made once per container, before the first event.
    let app = App::from_env().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(complete_assignment(app, req).await) })).await
}
