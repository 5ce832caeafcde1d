//! Connecting to the Docker engine: honours `DOCKER_HOST` (bollard's local
//! defaults) and negotiates the API version, since Debian's dockerd speaks
//! 1.41 while bollard defaults to a newer one.

use bollard::Docker;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("connecting to the Docker engine: {0}")]
    Connect(bollard::errors::Error),
    #[error("negotiating the Docker API version: {0}")]
    Negotiate(bollard::errors::Error),
}

/// A client for the engine at `DOCKER_HOST` (or the default socket).
pub async fn connect() -> Result<Docker, DockerError> {
    let docker = Docker::connect_with_local_defaults().map_err(DockerError::Connect)?;
    docker
        .negotiate_version()
        .await
        .map_err(DockerError::Negotiate)
}
