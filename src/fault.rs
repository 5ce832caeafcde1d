//! Fault injection for tests: makes a named point (an actor's name, such as
//! `stream_consumer`, or `sandbox` for the SandboxActor of a running job)
//! panic once, on demand. Compiled in only with the `fault-injection` cargo
//! feature, which the test build switches on (the crate's dev-dependency on
//! itself) and a release build does not: without it every function here is an
//! empty inline stub and nothing reads `FAULT_INJECTION_DIR`.
//!
//! A test arms a point by creating a file named after it in the directory
//! given by the `FAULT_INJECTION_DIR` environment variable; [`watch`] polls that
//! directory, deletes the file and arms the point, and the next [`trip`] of
//! that point panics ([`wedge`]: `<actor>.wedge` blocks the actor's thread
//! for a while instead). No HTTP route exists for it, on any build.

#[cfg(feature = "fault-injection")]
mod armed {
    use std::collections::HashSet;
    use std::sync::{LazyLock, Mutex};
    use std::time::Duration;

    static ARMED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);

    fn armed() -> std::sync::MutexGuard<'static, HashSet<String>> {
        ARMED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Disarms `point`; whether it was armed.
    pub fn take(point: &str) -> bool {
        armed().remove(point)
    }

    /// Arms the points named by files in `FAULT_INJECTION_DIR`, every 50 ms.
    pub fn watch() {
        let Some(dir) = std::env::var_os("FAULT_INJECTION_DIR") else {
            return;
        };
        tracing::warn!(dir = ?dir, "fault injection is on (a test build)");
        actix_rt::spawn(async move {
            loop {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if std::fs::remove_file(entry.path()).is_ok() {
                            tracing::warn!(point = %name, "fault armed");
                            armed().insert(name);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
}

/// Panics if `point` is armed (once per arming).
#[inline]
pub fn trip(point: &str) {
    if take(point) {
        panic!("injected fault: {point}");
    }
}

/// How long an armed wedge blocks its thread.
pub const WEDGE: std::time::Duration = std::time::Duration::from_secs(4);

/// If `<actor>.wedge` is armed, blocks the calling thread (the actor's
/// arbiter) for [`WEDGE`]: the actor is alive but answers nothing.
#[inline]
pub fn wedge(actor: &str) {
    #[cfg(feature = "fault-injection")]
    if take(&format!("{actor}.wedge")) {
        tracing::warn!(actor, "injected wedge");
        std::thread::sleep(WEDGE);
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = actor;
}

/// Disarms `point`; whether it was armed.
#[inline]
pub fn take(point: &str) -> bool {
    #[cfg(feature = "fault-injection")]
    {
        armed::take(point)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = point;
        false
    }
}

/// Starts arming points from `FAULT_INJECTION_DIR` (test builds only).
pub fn watch() {
    #[cfg(feature = "fault-injection")]
    armed::watch();
}
