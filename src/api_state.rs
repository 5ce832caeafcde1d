//! [`ApiState`]: what every API handler can reach, the native API's
//! (`http`) and the compatibility APIs' (`compat`) alike. It lives on its
//! own so both depend on it and neither on the other's handlers (it names
//! only their settings types).

use crate::actors::intake::Intake;
use crate::actors::PubSubBridge;
use crate::auth::Accounts;
use crate::control::ControlClient;
use crate::http::HttpSettings;
use crate::queue::Keys;
use crate::ws::WsSettings;
use actix::Addr;
use bollard::Docker;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

/// What every handler can reach.
pub struct ApiState {
    pub intake: Intake,
    pub accounts: Accounts,
    /// The login/register throttle (per client address and per username).
    pub throttle: crate::auth::Throttle,
    pub bridge: Addr<PubSubBridge>,
    pub redis: ConnectionManager,
    /// Redis names (the job stream, for the queue gauges of /metrics).
    pub keys: Keys,
    /// Present where this process also runs jobs (readiness checks it).
    pub docker: Option<Docker>,
    pub http: HttpSettings,
    /// Carries WebSocket `stdin`/`kill` to the worker running the job.
    pub control: ControlClient,
    pub ws: WsSettings,
    /// The Judge0 and Piston compatibility APIs' settings.
    pub compat: crate::compat::CompatSettings,
    /// Cancelled when the process shuts down: WebSocket sessions close with
    /// 1001 going-away so clients reconnect to another API process.
    pub shutdown: CancellationToken,
}
