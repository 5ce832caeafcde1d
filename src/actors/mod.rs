pub mod intake;
pub mod job_control;
pub mod pubsub_bridge;
pub mod sandbox;
pub mod session;
pub mod settings;
pub mod store;
pub mod stream_consumer;
pub mod supervisor;
pub mod worker_pool;

pub use job_control::JobControl;
pub use pubsub_bridge::PubSubBridge;
pub use sandbox::SandboxActor;
pub use session::SessionActor;
pub use store::StoreActor;
pub use stream_consumer::StreamConsumer;
pub use worker_pool::WorkerPool;
