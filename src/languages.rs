//! The language manifest: which languages exist, their image, the name a
//! single source file is saved under, and their compile and run commands.
//! Read once at start-up from `images/languages.toml` (the same file the image
//! build script reads), then shared read-only.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One `[[language]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Docker image (tag `latest`) built from `images/<image without rce->/`.
    pub image: String,
    /// The file a single `source` is saved as; the entry point of the commands.
    pub file: String,
    /// Compile argv, for compiled languages.
    #[serde(default)]
    pub compile: Option<Vec<String>>,
    /// Run argv; a submission's `args` are appended.
    pub run: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    language: Vec<Language>,
}

#[derive(Debug, thiserror::Error)]
pub enum LanguagesError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("language id or alias {0:?} appears twice")]
    Duplicate(String),
}

#[cfg(test)]
impl Language {
    /// Python as images/languages.toml describes it, for unit tests that
    /// need a language without reading the manifest.
    pub(crate) fn python_for_tests() -> Language {
        Language {
            id: "python".into(),
            name: "Python".into(),
            version: "3".into(),
            aliases: vec![],
            image: "rce-python".into(),
            file: "main.py".into(),
            compile: None,
            run: vec!["python3".into(), "main.py".into()],
        }
    }
}

/// All languages, looked up by id or alias.
#[derive(Debug, Clone)]
pub struct Languages {
    ordered: Arc<Vec<Language>>,
    by_name: Arc<HashMap<String, usize>>,
}

impl Languages {
    pub fn load(path: &Path) -> Result<Languages, LanguagesError> {
        let text = std::fs::read_to_string(path).map_err(|source| LanguagesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Languages::parse(&text).map_err(|error| match error {
            LanguagesError::Parse { source, .. } => LanguagesError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Languages, LanguagesError> {
        let manifest: Manifest = toml::from_str(text).map_err(|source| LanguagesError::Parse {
            path: "<manifest>".into(),
            source,
        })?;
        let mut by_name = HashMap::new();
        for (index, language) in manifest.language.iter().enumerate() {
            for name in std::iter::once(&language.id).chain(&language.aliases) {
                if by_name.insert(name.clone(), index).is_some() {
                    return Err(LanguagesError::Duplicate(name.clone()));
                }
            }
        }
        Ok(Languages {
            ordered: Arc::new(manifest.language),
            by_name: Arc::new(by_name),
        })
    }

    /// The language with this id or alias.
    pub fn get(&self, name: &str) -> Option<&Language> {
        self.by_name.get(name).map(|&index| &self.ordered[index])
    }

    /// All languages in manifest order.
    pub fn all(&self) -> &[Language] {
        &self.ordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        [[language]]
        id = "python"
        name = "Python"
        version = "3.11"
        aliases = ["py"]
        image = "rce-python"
        file = "main.py"
        run = ["python3", "main.py"]

        [[language]]
        id = "c"
        name = "C"
        version = "12"
        image = "rce-c"
        file = "main.c"
        compile = ["gcc", "-o", "main", "main.c"]
        run = ["./main"]
    "#;

    /// Ids and aliases both resolve; order is kept.
    #[test]
    fn looks_up_by_id_and_alias() {
        let languages = Languages::parse(MANIFEST).unwrap();
        assert_eq!(languages.get("py").unwrap().id, "python");
        assert_eq!(
            languages.get("c").unwrap().compile.as_ref().unwrap()[0],
            "gcc"
        );
        assert!(languages.get("cobol").is_none());
        assert_eq!(languages.all().len(), 2);
    }

    /// An alias that shadows another language's id is refused.
    #[test]
    fn duplicate_names_are_refused() {
        let text = MANIFEST.replace("aliases = [\"py\"]", "aliases = [\"c\"]");
        assert!(
            matches!(Languages::parse(&text), Err(LanguagesError::Duplicate(name)) if name == "c")
        );
    }

    /// The shipped manifest parses (the server refuses to start otherwise).
    #[test]
    fn shipped_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/languages.toml");
        let languages = Languages::load(&path).unwrap();
        assert!(languages.get("python").is_some());
    }
}
