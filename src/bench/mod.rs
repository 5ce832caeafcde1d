mod driver;
mod floor;
mod procstat;
pub mod report;
mod stats;

pub use driver::{figures, goals, run, BenchOptions};
