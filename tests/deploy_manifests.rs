//! The deployment files checked against the code they deploy: every
//! Kubernetes manifest under deploy/k8s, compose.yml and the Dockerfile's
//! environment. Settings keys must be real keys of `Settings` (each one is
//! deserialized through the same loader rce uses, whose structs all deny
//! unknown fields), probes must point at ports the process binds and paths
//! it serves (checked on real api and worker processes), selectors must
//! match labels, every rce container must run the one image, KEDA must
//! watch the stream and group that `rce::queue::Keys` names, and no JWT
//! signing secret is shipped: the API pods read it from the operator's
//! Secret `rce-secrets`, compose from the environment, and the image is
//! production by default, so a run without one refuses to start.

mod common;

use rce::config::Settings;
use rce::queue::Keys;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Environment variables that are not rce settings but are read by rce's
/// libraries.
const OTHER_VARIABLES: &[&str] = &["DOCKER_HOST"];

/// One parsed YAML document and the file it came from.
struct Doc {
    file: PathBuf,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// The documents of a YAML file as JSON values, with merge keys (`<<:`, as
/// compose.yml's `x-` anchors use) applied.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let mut yaml = serde_norway::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            yaml.apply_merge()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading deploy/k8s") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Every Kubernetes object under deploy/k8s (kustomizations included).
fn manifests() -> Vec<Doc> {
    let mut files = Vec::new();
    yaml_files(&common::repo().join("deploy/k8s"), &mut files);
    files.sort();
    assert!(!files.is_empty());
    files
        .into_iter()
        .flat_map(|file| {
            yaml_documents(&file).into_iter().map(move |value| Doc {
                file: file.clone(),
                value,
            })
        })
        .collect()
}

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

fn find<'a>(docs: &'a [Doc], kind: &str, name: &str) -> &'a Doc {
    docs.iter()
        .find(|d| d.kind() == kind && d.name() == name)
        .unwrap_or_else(|| panic!("no {kind} named {name}"))
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn containers(deployment: &Doc) -> Vec<Value> {
    deployment.value["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The environment a container of `deployment` gets: its envFrom sources
/// (ConfigMaps and Secrets of the manifests), then its own `env`.
fn container_env(docs: &[Doc], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        if let Some(name) = source["configMapRef"]["name"].as_str() {
            env.extend(string_map(&find(docs, "ConfigMap", name).value["data"]));
        }
        if let Some(name) = source["secretRef"]["name"].as_str() {
            let secret = &find(docs, "Secret", name).value;
            env.extend(string_map(&secret["stringData"]));
            assert!(secret["data"].is_null(), "keep {name} readable: stringData");
        }
    }
    for variable in container["env"].as_array().into_iter().flatten() {
        let name = variable["name"].as_str().expect("env name").to_string();
        let value = match secret_key_ref(variable) {
            // Only the cluster knows the value; any text type-checks alike.
            Some((secret, key)) => format!("<{secret}/{key}>"),
            None => variable["value"].as_str().unwrap_or_default().to_string(),
        };
        env.insert(name, value);
    }
    env
}

/// The Secret name and key an `env` entry reads, when it reads one.
fn secret_key_ref(variable: &Value) -> Option<(String, String)> {
    let reference = &variable["valueFrom"]["secretKeyRef"];
    Some((
        reference["name"].as_str()?.to_string(),
        reference["key"].as_str()?.to_string(),
    ))
}

/// The `--role` a container runs.
fn role(container: &Value) -> String {
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("rce containers set args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let at = args.iter().position(|a| *a == "--role").expect("--role");
    args[at + 1].to_string()
}

/// Checks that every key of `env` is an rce settings key (or a known other
/// variable) with a value of the right type, each key on its own and all
/// together.
fn assert_settings_keys(env: &BTreeMap<String, String>, place: &str) {
    let mut settings = Vec::new();
    for (key, value) in env {
        if !key.starts_with("RCE_") {
            assert!(
                OTHER_VARIABLES.contains(&key.as_str()),
                "{place}: {key} is neither an rce setting nor a known variable"
            );
            continue;
        }
        if let Err(error) = Settings::from_env([(key.clone(), value.clone())]) {
            panic!("{place}: {key}={value:?} is not a valid setting: {error}");
        }
        settings.push((key.clone(), value.clone()));
    }
    if let Err(error) = Settings::from_env(settings) {
        panic!("{place}: the settings together do not load: {error}");
    }
}

/// Every manifest parses, names its kind and object, lives in the `rce`
/// namespace, and every file a kustomization lists exists.
#[test]
fn every_manifest_parses_and_kustomizations_are_complete() {
    let docs = manifests();
    let known = [
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "Kustomization",
    ];
    for doc in &docs {
        assert!(
            known.contains(&doc.kind()),
            "{}: unexpected kind {:?}",
            doc.file.display(),
            doc.kind()
        );
        if doc.kind() == "Kustomization" {
            let dir = doc.file.parent().unwrap();
            for resource in doc.value["resources"].as_array().expect("resources") {
                let path = dir.join(resource.as_str().unwrap());
                assert!(
                    path.exists(),
                    "{}: {} is missing",
                    doc.file.display(),
                    path.display()
                );
            }
            continue;
        }
        assert!(
            !doc.name().is_empty(),
            "{}: unnamed {}",
            doc.file.display(),
            doc.kind()
        );
        if doc.kind() != "Namespace" {
            assert_eq!(
                doc.value["metadata"]["namespace"],
                "rce",
                "{} {}",
                doc.kind(),
                doc.name()
            );
        }
    }
    for kind in [
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
        "ScaledObject",
        "ConfigMap",
    ] {
        assert!(!of_kind(&docs, kind).is_empty(), "no {kind}");
    }
}

/// Every environment variable a pod, compose.yml or the Dockerfile sets is
/// a real settings key with a well-typed value (an unknown or misspelt key
/// would make rce refuse to start).
#[test]
fn env_keys_are_real_settings_keys() {
    let docs = manifests();
    for deployment in of_kind(&docs, "Deployment") {
        for container in containers(deployment) {
            let env = container_env(&docs, &container);
            let place = format!(
                "deployment {} container {}",
                deployment.name(),
                container["name"]
            );
            assert_settings_keys(&env, &place);
        }
    }
    let compose = compose();
    for service in ["api", "worker"] {
        let env = string_map(&compose["services"][service]["environment"]);
        assert!(
            !env.is_empty(),
            "compose service {service} has no environment"
        );
        assert_settings_keys(&env, &format!("compose.yml {service}"));
    }
    let dockerfile_env = common::dockerfile_env();
    assert!(!dockerfile_env.is_empty());
    assert_settings_keys(&dockerfile_env, "Dockerfile ENV");
}

fn compose() -> Value {
    let mut docs = yaml_documents(&common::repo().join("compose.yml"));
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Probes use `/healthz` (liveness) and `/readyz` (readiness) on a named
/// port the container declares, and that port is the one rce binds for the
/// container's role (the API's `http.bind`, a worker's `worker.health_bind`).
#[test]
fn probes_point_at_the_port_rce_binds() {
    let docs = manifests();
    let defaults = Settings::default();
    for deployment in of_kind(&docs, "Deployment") {
        for container in containers(deployment) {
            let env = container_env(&docs, &container);
            let role = role(&container);
            let (key, default) = match role.as_str() {
                "api" | "all" => ("RCE_HTTP__BIND", defaults.http.bind.clone()),
                "worker" => (
                    "RCE_WORKER__HEALTH_BIND",
                    defaults.worker.health_bind.clone(),
                ),
                other => panic!("unknown role {other}"),
            };
            let bind = env.get(key).cloned().unwrap_or(default);
            assert!(
                bind.starts_with("0.0.0.0:"),
                "{}: {key}={bind} is unreachable for the kubelet",
                deployment.name()
            );
            let bound_port: u64 = bind.rsplit(':').next().unwrap().parse().unwrap();
            let ports = container["ports"].as_array().expect("ports");
            for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
                let get = &container[probe]["httpGet"];
                assert_eq!(get["path"], path, "{} {probe}", deployment.name());
                let port = ports
                    .iter()
                    .find(|p| p["name"] == get["port"] || p["containerPort"] == get["port"])
                    .unwrap_or_else(|| {
                        panic!(
                            "{} {probe}: port {} is not declared",
                            deployment.name(),
                            get["port"]
                        )
                    });
                assert_eq!(
                    port["containerPort"].as_u64(),
                    Some(bound_port),
                    "{} {probe}",
                    deployment.name()
                );
            }
            assert!(
                container["resources"]["requests"].is_object()
                    && container["resources"]["limits"].is_object(),
                "{}: requests and limits",
                deployment.name()
            );
        }
    }
}

/// Each Deployment's selector matches its pod labels, and every Service,
/// PodDisruptionBudget, autoscaler and Ingress points at something that
/// exists: the selected pods, the target Deployment, the Service's port.
#[test]
fn selectors_match_labels_and_references_resolve() {
    let docs = manifests();
    let deployments = of_kind(&docs, "Deployment");
    let pod_labels: Vec<(&str, BTreeMap<String, String>)> = deployments
        .iter()
        .map(|d| {
            let labels = string_map(&d.value["spec"]["template"]["metadata"]["labels"]);
            let selector = string_map(&d.value["spec"]["selector"]["matchLabels"]);
            assert!(!selector.is_empty(), "{} selects nothing", d.name());
            for (k, v) in &selector {
                assert_eq!(
                    labels.get(k),
                    Some(v),
                    "{}: selector {k} not on its pods",
                    d.name()
                );
            }
            (d.name(), labels)
        })
        .collect();
    let selected = |selector: &BTreeMap<String, String>| -> Vec<&str> {
        pod_labels
            .iter()
            .filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|(name, _)| *name)
            .collect()
    };
    for service in of_kind(&docs, "Service") {
        let targets = selected(&string_map(&service.value["spec"]["selector"]));
        assert_eq!(
            targets.len(),
            1,
            "service {} selects {targets:?}",
            service.name()
        );
        let deployment = find(&docs, "Deployment", targets[0]);
        for port in service.value["spec"]["ports"].as_array().unwrap() {
            let target = &port["targetPort"];
            assert!(
                containers(deployment).iter().any(|c| c["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| &p["name"] == target || &p["containerPort"] == target)),
                "service {} targets port {target} that {} does not declare",
                service.name(),
                deployment.name()
            );
        }
    }
    for pdb in of_kind(&docs, "PodDisruptionBudget") {
        let targets = selected(&string_map(&pdb.value["spec"]["selector"]["matchLabels"]));
        assert_eq!(targets.len(), 1, "PDB {} selects {targets:?}", pdb.name());
    }
    for kind in ["HorizontalPodAutoscaler", "ScaledObject"] {
        for scaler in of_kind(&docs, kind) {
            let target = scaler.value["spec"]["scaleTargetRef"]["name"]
                .as_str()
                .unwrap();
            find(&docs, "Deployment", target);
        }
    }
    for ingress in of_kind(&docs, "Ingress") {
        for rule in ingress.value["spec"]["rules"].as_array().unwrap() {
            for path in rule["http"]["paths"].as_array().unwrap() {
                let backend = &path["backend"]["service"];
                let service = find(&docs, "Service", backend["name"].as_str().unwrap());
                assert!(
                    service.value["spec"]["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == backend["port"]["name"]
                            || p["port"] == backend["port"]["number"]),
                    "ingress {} uses a port service {} lacks",
                    ingress.name(),
                    service.name()
                );
            }
        }
    }
}

/// Every rce container in Kubernetes runs the same image and a role that
/// matches its Deployment's component label; compose.yml builds its image
/// from this repository's Dockerfile and runs api and worker from it.
#[test]
fn one_image_for_every_rce_process() {
    let docs = manifests();
    let mut images = BTreeSet::new();
    for deployment in of_kind(&docs, "Deployment") {
        let component = deployment.value["spec"]["template"]["metadata"]["labels"]
            ["app.kubernetes.io/component"]
            .as_str()
            .unwrap()
            .to_string();
        for container in containers(deployment) {
            images.insert(container["image"].as_str().unwrap().to_string());
            assert_eq!(role(&container), component, "{}", deployment.name());
        }
    }
    assert_eq!(
        images.len(),
        1,
        "rce containers run different images: {images:?}"
    );

    let compose = compose();
    let services = &compose["services"];
    assert_eq!(
        services["api"]["build"], ".",
        "the api service builds ./Dockerfile"
    );
    assert_eq!(services["api"]["image"], services["worker"]["image"]);
    assert_eq!(
        services["api"]["command"],
        serde_json::json!(["serve", "--role", "api"])
    );
    assert_eq!(
        services["worker"]["command"],
        serde_json::json!(["serve", "--role", "worker"])
    );
    assert_eq!(services["api"]["deploy"]["replicas"], 2);
    assert_eq!(services["worker"]["deploy"]["replicas"], 3);
    let redis_command = services["redis"]["command"].to_string();
    assert!(
        redis_command.contains("\"--appendonly\",\"yes\""),
        "{redis_command}"
    );
    // Bounded memory, and never by evicting keys (the job stream).
    assert!(
        redis_command.contains("\"--maxmemory\","),
        "{redis_command}"
    );
    assert!(
        redis_command.contains("\"--maxmemory-policy\",\"noeviction\""),
        "{redis_command}"
    );
    assert!(services["mongo"].is_object());
    let nginx = std::fs::read_to_string(common::repo().join("deploy/compose/nginx.conf")).unwrap();
    for needed in [
        "proxy_set_header Upgrade $http_upgrade",
        "proxy_http_version 1.1",
        "http://api:8080",
    ] {
        assert!(nginx.contains(needed), "nginx.conf lacks {needed:?}");
    }
}

/// KEDA scales workers on the lag of the stream and group the code uses
/// (`Keys`) and on the length of the fair dispatch's held list, with the seed design's threshold of 100 waiting jobs, on the
/// Redis the pods use; the CPU-only HPA lives in another overlay, so the
/// two never drive one Deployment together.
#[test]
fn keda_watches_the_job_stream_of_the_code() {
    let docs = manifests();
    let config = string_map(&find(&docs, "ConfigMap", "rce-config").value["data"]);
    let prefix = config
        .get("RCE_REDIS__PREFIX")
        .cloned()
        .unwrap_or_else(|| Settings::default().redis.prefix);
    let keys = Keys::new(&prefix);
    let scaled = find(&docs, "ScaledObject", "rce-worker");
    let triggers = scaled.value["spec"]["triggers"].as_array().unwrap();
    let redis = triggers
        .iter()
        .find(|t| t["type"] == "redis-streams")
        .expect("a redis-streams trigger");
    let metadata = &redis["metadata"];
    assert_eq!(metadata["stream"], keys.jobs_stream().as_str());
    assert_eq!(metadata["consumerGroup"], keys.group());
    assert_eq!(metadata["lagCount"], "100");
    assert!(
        metadata["pendingEntriesCount"].is_null(),
        "lag, not pending: see scaledobject.yaml"
    );
    let url = config["RCE_REDIS__URL"].clone();
    let host_port = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .rsplit('@')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        metadata["address"],
        host_port.as_str(),
        "KEDA and rce read different Redis"
    );
    // Jobs held for fair dispatch wait outside the stream: the held list's
    // length is the rest of the backlog.
    let held = triggers
        .iter()
        .find(|t| t["type"] == "redis")
        .expect("a redis list trigger on the fair dispatch backlog");
    assert_eq!(held["metadata"]["listName"], keys.fair_held().as_str());
    assert_eq!(held["metadata"]["listLength"], "100");
    assert_eq!(held["metadata"]["address"], host_port.as_str());
    assert!(
        triggers.iter().any(|t| t["type"] == "cpu"),
        "CPU as a second trigger"
    );
    assert_eq!(scaled.value["spec"]["scaleTargetRef"]["name"], "rce-worker");

    for kustomization in of_kind(&docs, "Kustomization") {
        let dir = kustomization.file.parent().unwrap();
        let mut kinds = BTreeSet::new();
        for resource in kustomization.value["resources"].as_array().unwrap() {
            let path = dir.join(resource.as_str().unwrap());
            if path.is_file() {
                for doc in yaml_documents(&path) {
                    if doc["kind"] == "ScaledObject"
                        || (doc["kind"] == "HorizontalPodAutoscaler"
                            && doc["spec"]["scaleTargetRef"]["name"] == "rce-worker")
                    {
                        kinds.insert(doc["kind"].as_str().unwrap().to_string());
                    }
                }
            }
        }
        assert!(
            kinds.len() <= 1,
            "{} drives the workers with {kinds:?}",
            kustomization.file.display()
        );
    }
}

/// Whether a settings key or Secret key names the JWT signing secret.
fn is_jwt_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    key.contains("jwt_secret")
}

/// No manifest ships a JWT signing secret: no Secret object at all (the
/// operator creates `rce-secrets`, see config.yaml), no ConfigMap key and no
/// literal `env` value for it. Every API container reads
/// RCE_AUTH__JWT_SECRET from `rce-secrets` key `jwt-secret` through
/// secretKeyRef, and workers, which never check tokens, are not given it.
#[test]
fn no_jwt_secret_is_shipped_and_the_api_reads_the_operators_secret() {
    let docs = manifests();
    for doc in &docs {
        assert_ne!(
            doc.kind(),
            "Secret",
            "{} ships Secret {}: secrets are the operator's to create",
            doc.file.display(),
            doc.name()
        );
    }
    for config in of_kind(&docs, "ConfigMap") {
        for key in string_map(&config.value["data"]).keys() {
            assert!(
                !is_jwt_secret_key(key),
                "ConfigMap {} carries {key}",
                config.name()
            );
        }
    }
    let mut api_containers = 0;
    for deployment in of_kind(&docs, "Deployment") {
        for container in containers(deployment) {
            let place = format!("{} container {}", deployment.name(), container["name"]);
            for source in container["envFrom"].as_array().into_iter().flatten() {
                assert!(
                    source["secretRef"].is_null(),
                    "{place}: envFrom a whole Secret would hand it every key"
                );
            }
            let jwt: Vec<&Value> = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| is_jwt_secret_key(v["name"].as_str().unwrap_or_default()))
                .collect();
            for variable in &jwt {
                assert!(
                    variable["value"].is_null(),
                    "{place}: a literal {} in the manifest",
                    variable["name"]
                );
            }
            match role(&container).as_str() {
                "worker" => assert!(jwt.is_empty(), "{place}: workers need no JWT secret"),
                _ => {
                    api_containers += 1;
                    assert_eq!(jwt.len(), 1, "{place}: RCE_AUTH__JWT_SECRET is not set");
                    assert_eq!(jwt[0]["name"], "RCE_AUTH__JWT_SECRET", "{place}");
                    assert_eq!(
                        secret_key_ref(jwt[0]),
                        Some(("rce-secrets".to_string(), "jwt-secret".to_string())),
                        "{place}"
                    );
                }
            }
        }
    }
    assert!(api_containers > 0, "no API container found");
    // The command that creates the Secret is where operators look for it.
    let config =
        std::fs::read_to_string(common::repo().join("deploy/k8s/base/config.yaml")).unwrap();
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    for (place, text) in [("config.yaml", &config), ("README.md", &readme)] {
        assert!(
            text.contains("kubectl create secret generic rce-secrets")
                && text.contains("--from-literal=jwt-secret="),
            "{place} does not show how to create rce-secrets"
        );
    }
}

/// compose.yml takes the secret from the environment and refuses to
/// resolve without it (no default, no literal), gives it to the API only,
/// and runs in production; the Dockerfile sets RCE_ENV=production and no
/// secret, so a plain `docker run` cannot sign with the development one.
#[test]
fn compose_and_the_image_default_to_production_without_a_shipped_secret() {
    let compose = compose();
    let api = string_map(&compose["services"]["api"]["environment"]);
    assert_eq!(api.get("RCE_ENV").map(String::as_str), Some("production"));
    let secret = api
        .get("RCE_AUTH__JWT_SECRET")
        .expect("api is given a secret");
    assert!(
        secret.starts_with("${RCE_JWT_SECRET:?") && secret.ends_with('}'),
        "compose must take the secret from the environment and fail without it: {secret}"
    );
    let worker = string_map(&compose["services"]["worker"]["environment"]);
    assert!(
        worker.keys().all(|key| !is_jwt_secret_key(key)),
        "workers need no JWT secret"
    );
    let image = common::dockerfile_env();
    assert_eq!(image.get("RCE_ENV").map(String::as_str), Some("production"));
    assert!(image.keys().all(|key| !is_jwt_secret_key(key)));
}

/// `docker compose config` (or the standalone `docker-compose`) accepts
/// compose.yml; skipped, visibly, where neither is installed.
#[test]
fn compose_file_validates() {
    let repo = common::repo();
    let attempts: [(&str, &[&str]); 2] = [
        ("docker", &["compose", "-f", "compose.yml", "config", "-q"]),
        ("docker-compose", &["-f", "compose.yml", "config", "-q"]),
    ];
    for (program, args) in attempts {
        // `docker` without the compose plugin does not know `compose`.
        let version_args: &[&str] = if program == "docker" {
            &["compose", "version"]
        } else {
            &["version"]
        };
        let installed = std::process::Command::new(program)
            .args(version_args)
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            continue;
        }
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(&repo)
            .env("DOCKER_GID", "999")
            .env("RCE_JWT_SECRET", "0123456789abcdef0123456789abcdef")
            .output()
            .expect("running compose");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{program} config: {stderr}");
        // Without a signing secret the file refuses to resolve: a production
        // deployment never starts on a default secret.
        let unset = std::process::Command::new(program)
            .args(args)
            .current_dir(&repo)
            .env("DOCKER_GID", "999")
            .env_remove("RCE_JWT_SECRET")
            .output()
            .expect("running compose");
        assert!(
            !unset.status.success(),
            "{program} config accepted compose.yml without RCE_JWT_SECRET"
        );
        eprintln!("compose.yml validated by `{program} {}`", args.join(" "));
        return;
    }
    eprintln!("SKIPPED: neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)");
}

/// The probe paths of every Deployment answer 200 on real processes of the
/// container's role (an api and a worker against the test Redis, store and
/// Docker engine).
#[actix_rt::test]
async fn probe_paths_answer_on_real_processes() {
    let docs = manifests();
    let api = common::start_rce_with(common::RceOptions {
        role: "api",
        ..Default::default()
    });
    let worker = common::start_rce_with(common::RceOptions {
        role: "worker",
        share_with: Some((api.prefix.clone(), api.dir.clone())),
        ..Default::default()
    });
    for deployment in of_kind(&docs, "Deployment") {
        for container in containers(deployment) {
            let process = if role(&container) == "worker" {
                &worker
            } else {
                &api
            };
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                let Some(path) = container[probe]["httpGet"]["path"].as_str() else {
                    continue;
                };
                let (status, body) = common::get_json(&process.url(path)).await;
                assert_eq!(status, 200, "{} {probe} {path}: {body}", deployment.name());
            }
        }
    }
}

/// `rce_…` metric names an expression refers to, histogram suffixes removed.
fn metric_names_in(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("rce_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.insert(base.to_string());
        rest = &tail[end..];
    }
    names
}

/// Every metric named by `exprs` is one rce registers (`rce::metrics::names`).
fn assert_exported(exprs: &[String], place: &str) {
    let exported: BTreeSet<String> = rce::metrics::names().into_iter().collect();
    for expr in exprs {
        let names = metric_names_in(expr);
        assert!(!names.is_empty(), "{place}: `{expr}` names no rce metric");
        for name in names {
            assert!(
                exported.contains(&name),
                "{place}: `{expr}` uses {name}, which rce does not export ({exported:?})"
            );
        }
    }
}

/// deploy/prometheus/alerts.yml passes `promtool check rules` (Debian's
/// prometheus package, installed by `make setup`), covers queue lag, dead
/// letters, actor restarts and a worker that is not ready, and uses only
/// metrics rce exports.
#[test]
fn alert_rules_pass_promtool_and_use_exported_metrics() {
    let file = common::repo().join("deploy/prometheus/alerts.yml");
    let output = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool is missing: apt-get install prometheus (make setup installs it)");
    assert!(
        output.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let rules: Vec<Value> = yaml_documents(&file)[0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_array().unwrap().clone())
        .collect();
    let exprs: Vec<String> = rules
        .iter()
        .map(|rule| rule["expr"].as_str().unwrap().to_string())
        .collect();
    assert_exported(&exprs, "alerts.yml");
    let watched: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names_in(e)).collect();
    for needed in [
        "rce_queue_entries",
        "rce_jobs_dead_lettered_total",
        "rce_actor_restarts_total",
        "rce_docker_engine_up",
        "rce_actor_up",
    ] {
        assert!(watched.contains(needed), "no alert watches {needed}");
    }
}

/// deploy/grafana/rce-dashboard.json is a dashboard Grafana can import:
/// valid JSON with a title and uid, unique panel ids, every panel placed and
/// querying the Prometheus datasource variable with expressions over
/// metrics rce exports.
#[test]
fn grafana_dashboard_parses_and_queries_exported_metrics() {
    let file = common::repo().join("deploy/grafana/rce-dashboard.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is valid JSON");
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    let mut exprs = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate id at {title}"
        );
        assert!(
            panel["gridPos"]["w"].as_u64().is_some(),
            "{title} has no place"
        );
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} queries nothing");
        exprs.extend(
            targets
                .iter()
                .map(|t| t["expr"].as_str().unwrap().to_string()),
        );
    }
    assert_exported(&exprs, "rce-dashboard.json");
}
