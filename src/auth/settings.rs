//! The `auth` section of the configuration: the JWT signing secret, issuer
//! and lifetime, the Argon2id cost, the per-user API key cap and how long an
//! API process trusts its cached copy of a user's token version. In
//! production (`RCE_ENV=production`) [`AuthSettings::check`] refuses the
//! built-in development secret, every other secret published in this
//! repository ([`PUBLISHED_SECRETS`]: placeholders in the manifests and
//! docs) and any secret shorter than 32 bytes, so a forgotten or copied
//! setting stops the server instead of making tokens forgeable.

use super::AuthError;
use serde::Deserialize;

/// The signing secret used when none is configured. Public (it is in the
/// source), so it is refused in production.
pub const DEV_SECRET: &str = "rce-development-secret-do-not-use-in-production";
/// Every signing secret that has appeared in this repository (the default
/// above, placeholders once shipped in deploy/ or the docs). Anyone can read
/// them, so anyone could sign tokens with them: production refuses each.
/// A test scans deploy/, README.md, the Dockerfile and the compose files for
/// `JWT_SECRET` assignments and fails on a literal value missing here.
pub const PUBLISHED_SECRETS: &[&str] = &[
    DEV_SECRET,
    // deploy/k8s/base/config.yaml's Secret, until the Secret became the
    // operator's to create.
    "change-me-to-at-least-32-random-bytes",
];
/// Shortest secret accepted in production: HS256's key should be at least as
/// long as its 256-bit output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 signing secret for login tokens; every API process of a
    /// deployment must share it.
    pub jwt_secret: String,
    /// `iss` of issued tokens; tokens with another issuer are refused.
    pub jwt_issuer: String,
    /// Lifetime of a login token.
    pub token_ttl_secs: u64,
    /// Argon2id memory cost in KiB (OWASP's minimum for t=2 is 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// API keys one user may hold at once (each is a row checked on every use).
    pub max_api_keys: usize,
    /// How long, in milliseconds, an API process trusts the token version
    /// it last read for a user before reading it again. A login token is
    /// checked against that version on every request, so this bounds how
    /// long another API process still accepts tokens after a logout-all
    /// (the process that handled the logout-all knows at once). 0 reads
    /// the store on every request.
    pub user_cache_ttl_ms: u64,
    /// The login/register throttle (`auth.throttle.*`).
    pub throttle: super::ThrottleSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: DEV_SECRET.into(),
            jwt_issuer: "rce".into(),
            token_ttl_secs: 24 * 3600,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_api_keys: 20,
            user_cache_ttl_ms: 1000,
            throttle: super::ThrottleSettings::default(),
        }
    }
}

impl AuthSettings {
    /// Refuses settings that are unsafe for `environment` (`RCE_ENV`).
    pub fn check(&self, environment: &str) -> Result<(), AuthError> {
        if self.jwt_secret.is_empty() {
            return Err(AuthError::WeakSecret("must not be empty".into()));
        }
        if self.token_ttl_secs == 0 {
            return Err(AuthError::WeakSecret(
                "auth.token_ttl_secs must be at least 1".into(),
            ));
        }
        if environment == "production" {
            if self.jwt_secret == DEV_SECRET {
                return Err(AuthError::WeakSecret(
                    "the built-in development secret is refused when RCE_ENV=production; set RCE_AUTH__JWT_SECRET".into(),
                ));
            }
            if PUBLISHED_SECRETS.contains(&self.jwt_secret.as_str()) {
                return Err(AuthError::WeakSecret(
                    "this secret is published in rce's repository (a placeholder from its manifests or docs), so anyone can sign tokens with it; it is refused when RCE_ENV=production. Generate one: openssl rand -base64 48".into(),
                ));
            }
            if self.jwt_secret.len() < MIN_SECRET_BYTES {
                return Err(AuthError::WeakSecret(format!(
                    "{} bytes is too short for RCE_ENV=production (at least {MIN_SECRET_BYTES})",
                    self.jwt_secret.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Production refuses the development secret and short secrets; any
    /// other environment accepts them.
    #[test]
    fn production_refuses_weak_secrets() {
        let dev = AuthSettings::default();
        assert!(dev.check("development").is_ok());
        assert!(dev.check("production").is_err());
        let short = AuthSettings {
            jwt_secret: "x".repeat(MIN_SECRET_BYTES - 1),
            ..AuthSettings::default()
        };
        assert!(short.check("production").is_err());
        let good = AuthSettings {
            jwt_secret: "x".repeat(MIN_SECRET_BYTES),
            ..AuthSettings::default()
        };
        assert!(good.check("production").is_ok());
        for published in PUBLISHED_SECRETS {
            let settings = AuthSettings {
                jwt_secret: published.to_string(),
                ..AuthSettings::default()
            };
            assert!(settings.check("production").is_err(), "{published}");
        }
        let placeholder = AuthSettings {
            jwt_secret: "change-me-to-at-least-32-random-bytes".into(),
            ..AuthSettings::default()
        };
        let refusal = placeholder.check("production").unwrap_err().to_string();
        assert!(refusal.contains("published"), "{refusal}");
        let empty = AuthSettings {
            jwt_secret: String::new(),
            ..AuthSettings::default()
        };
        assert!(empty.check("development").is_err());
    }

    /// The literal values assigned to a JWT secret in `text`: `KEY: value`,
    /// `KEY=value` (shell, env files, `--from-literal=jwt-secret=…`) and a
    /// Kubernetes `- name: KEY` followed by `value: …`, where KEY contains
    /// `jwt_secret` or `jwt-secret` in any case. References (`$VAR`,
    /// `${VAR:?…}`) and computed values (`$(openssl …)`) are not literals.
    fn jwt_secret_literals(text: &str) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let mut found = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let lower = line.to_ascii_lowercase();
            let mut from = 0;
            while let Some(at) = ["jwt_secret", "jwt-secret"]
                .iter()
                .filter_map(|key| lower[from..].find(key))
                .min()
                .map(|at| at + from)
            {
                from = at + "jwt_secret".len();
                let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
                let start = line[..at]
                    .char_indices()
                    .rev()
                    .find(|(_, c)| !is_name(*c))
                    .map_or(0, |(i, c)| i + c.len_utf8());
                if line[..start].ends_with('{') || line[..start].ends_with('$') {
                    continue; // ${VAR…} or $VAR: a reference
                }
                let end = line[from..]
                    .find(|c: char| !is_name(c))
                    .map_or(line.len(), |i| i + from);
                let rest = line[end..].trim_start_matches(['"', '\'', '`', ' ']);
                let value = if let Some(value) = rest.strip_prefix(['=', ':']) {
                    value
                } else if line[..start].trim_end().ends_with("name:") {
                    // `- name: RCE_AUTH__JWT_SECRET` / `  value: …`
                    match lines.get(index + 1).map(|next| next.trim_start()) {
                        Some(next) if next.starts_with("value:") => &next["value:".len()..],
                        _ => continue,
                    }
                } else {
                    continue;
                };
                let value: String = value
                    .trim_start_matches([' ', '"', '\'', '`'])
                    .chars()
                    .take_while(|c| {
                        !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | ';' | ',')
                    })
                    .collect();
                if !value.is_empty() && !value.starts_with('$') {
                    found.push(value);
                }
            }
        }
        found
    }

    /// The scanner below finds every form of assignment a deployment file
    /// uses and skips references and computed values.
    #[test]
    fn scanner_finds_secret_assignments() {
        let sample = r#"
  RCE_AUTH__JWT_SECRET: change-me-to-at-least-32-random-bytes
export RCE_JWT_SECRET=plain-literal
jwt_secret = "from-toml"
kubectl create secret generic rce-secrets --from-literal=jwt-secret=from-kubectl
        - name: RCE_AUTH__JWT_SECRET
          value: "k8s-literal"
        - name: RCE_AUTH__JWT_SECRET
          valueFrom:
  RCE_AUTH__JWT_SECRET: ${RCE_JWT_SECRET:?set RCE_JWT_SECRET to 32+ random bytes}
export RCE_JWT_SECRET=$(openssl rand -hex 32)
| `auth.jwt_secret` | a built-in development secret |
"#;
        assert_eq!(
            jwt_secret_literals(sample),
            [
                "change-me-to-at-least-32-random-bytes",
                "plain-literal",
                "from-toml",
                "from-kubectl",
                "k8s-literal"
            ]
        );
    }

    fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Every literal JWT secret in deploy/, README.md, the Dockerfile and
    /// the compose files is one production refuses, so a placeholder added
    /// to a manifest or the docs cannot become a working secret for
    /// whoever copies it.
    #[test]
    fn every_secret_in_the_repository_is_refused() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        files_under(&repo.join("deploy"), &mut files);
        for entry in std::fs::read_dir(repo).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name == "README.md"
                || name == "Dockerfile"
                || (name.contains("compose") && (name.ends_with(".yml") || name.ends_with(".yaml")))
            {
                files.push(path);
            }
        }
        for needed in ["README.md", "Dockerfile", "compose.yml"] {
            assert!(files.contains(&repo.join(needed)), "{needed} not scanned");
        }
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue; // not text
            };
            for value in jwt_secret_literals(&text) {
                assert!(
                    PUBLISHED_SECRETS.contains(&value.as_str()),
                    "{} assigns the JWT secret {value:?}, which production does not refuse: add it to PUBLISHED_SECRETS",
                    file.display()
                );
            }
        }
    }
}
