//! Which languages a worker serves: those whose image is on the engine. The
//! version served is the one scripts/images.sh read from the built image
//! (its `rce.version` label), so `GET /api/v1/languages`, Judge0's
//! `/languages` and Piston's `/runtimes` show what actually runs; the
//! manifest's `version` is the fallback for an image built without it.

use crate::languages::{Language, Languages, LanguagesError};
use bollard::models::ImageInspect;
use bollard::Docker;

/// The image label holding the language's version.
pub const LABEL_VERSION: &str = "rce.version";

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error("inspecting image {image}: {source}")]
    Inspect {
        image: String,
        source: bollard::errors::Error,
    },
    #[error(
        "no language's image is built: none of {} exists on the Docker engine (build them \
         with `make images`)",
        .0.join(", ")
    )]
    NoneBuilt(Vec<String>),
    #[error(transparent)]
    Languages(#[from] LanguagesError),
}

/// The languages of `languages` whose image exists, each with its image's
/// version. A missing image is logged and its language left out; none at all
/// (a worker with nothing to run), or an engine that does not answer, is an
/// error.
pub async fn served_languages(
    docker: &Docker,
    languages: &Languages,
) -> Result<Languages, ImagesError> {
    let mut versions = Vec::with_capacity(languages.all().len());
    for language in languages.all() {
        versions.push(image_version(docker, language).await?);
    }
    let mut versions = versions.into_iter();
    let served = languages.filter_map(|language| {
        let version = versions.next().flatten()?;
        Some(Language {
            version: version.unwrap_or_else(|| language.version.clone()),
            ..language.clone()
        })
    })?;
    let missing: Vec<&str> = languages
        .all()
        .iter()
        .filter(|language| served.get(&language.id).is_none())
        .map(|language| language.id.as_str())
        .collect();
    if served.all().is_empty() && !languages.all().is_empty() {
        return Err(ImagesError::NoneBuilt(
            languages.all().iter().map(Language::image_ref).collect(),
        ));
    }
    if !missing.is_empty() {
        tracing::warn!(
            missing = %missing.join(" "),
            "languages without a built image are not served (build them: make images LANGS=\"{}\")",
            missing.join(" ")
        );
    }
    tracing::info!(languages = served.all().len(), "languages served");
    Ok(served)
}

/// The language's image as the engine describes it; `None` when it is not
/// there (a 404), an error when the engine does not answer.
pub async fn inspect_language_image(
    docker: &Docker,
    language: &Language,
) -> Result<Option<ImageInspect>, bollard::errors::Error> {
    match docker.inspect_image(&language.image_ref()).await {
        Ok(inspect) => Ok(Some(inspect)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `None` when the language's image is missing; else its version label, if
/// it has a usable one.
async fn image_version(
    docker: &Docker,
    language: &Language,
) -> Result<Option<Option<String>>, ImagesError> {
    let inspect = inspect_language_image(docker, language)
        .await
        .map_err(|source| ImagesError::Inspect {
            image: language.image_ref(),
            source,
        })?;
    Ok(inspect.map(|inspect| {
        inspect
            .config
            .and_then(|config| config.labels)
            .and_then(|labels| labels.get(LABEL_VERSION).cloned())
            .filter(|version| version_is_usable(version))
    }))
}

/// A label worth showing: a dotted number, as images.sh writes it (it
/// writes `unknown` when the version command printed none).
fn version_is_usable(version: &str) -> bool {
    !version.is_empty() && version.split('.').all(|part| part.parse::<u64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dotted_numbers_are_versions() {
        assert!(version_is_usable("3.11.2"));
        assert!(version_is_usable("25"));
        assert!(!version_is_usable("unknown"));
        assert!(!version_is_usable(""));
        assert!(!version_is_usable("3..1"));
    }
}
