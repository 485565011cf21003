//! Registry names the runtimes reach as one registry (Docker Hub's names, an explicit `:443`)
//! are covered by the policies written for the canonical name (issue 15, item 7). Under
//! `--no-match allow` an alias that escaped its glob would be admitted unchecked; here every
//! alias meets the policy (a `static: fail`, so no registry is needed) and is denied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet::engine::{Engine, EngineSettings, NoMatchAction};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::verdict::Outcome;
use signet::workload::ImageUse;

fn fail_policy(name: &str, glob: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\nspec:\n  images: [{{glob: \"{glob}\"}}]\n  authorities: [{{static: {{action: fail}}}}]\n"
    )
}

fn engine(globs: &[&str]) -> Engine {
    let yaml: Vec<String> = globs
        .iter()
        .enumerate()
        .map(|(i, glob)| fail_policy(&format!("p{i}"), glob))
        .collect();
    let policies = PolicySet::from_yaml(&yaml.join("---\n"), "test").unwrap();
    let settings = EngineSettings {
        no_match: NoMatchAction::Allow,
        ..EngineSettings::default()
    };
    Engine::new(
        policies,
        Registry::new(RegistryConfig::default(), Credentials::default()),
        settings,
    )
}

async fn outcome(engine: &Engine, image: &str) -> Outcome {
    let usage = ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: image.into(),
    };
    engine.review(None, &[usage]).await.verdicts[0]
        .outcome
        .clone()
}

#[tokio::test]
async fn under_no_match_allow_no_registry_alias_escapes_its_glob() {
    let cases: [(&str, &[&str]); 2] = [
        (
            "docker.io/library/**",
            &[
                "registry-1.docker.io/library/nginx:1",
                "registry-1.docker.io/nginx",
                "REGISTRY-1.DOCKER.IO:443/library/nginx",
                "index.docker.io/library/nginx",
                "index.docker.io:443/nginx",
                "docker.io:443/library/nginx",
                "Docker.IO:443/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
        ),
        (
            "ghcr.io/org/**",
            &[
                "ghcr.io:443/org/app:1",
                "GHCR.IO:443/org/app",
                "ghcr.io:443/org/team/app",
            ],
        ),
    ];
    for (glob, aliases) in cases {
        let engine = engine(&[glob]);
        for alias in aliases {
            match outcome(&engine, alias).await {
                Outcome::Deny(reason) => {
                    assert_eq!(reason.code(), "StaticFail", "{glob} / {alias}: {reason}")
                }
                other => panic!("{glob} / {alias}: admitted unchecked: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn other_ports_and_look_alikes_stay_other_registries() {
    let engine = engine(&["ghcr.io/org/**", "docker.io/**"]);
    for other in [
        "ghcr.io:4443/org/app",
        "ghcr.io:80/org/app",
        "ghcr.io.evil.com:443/org/app",
        "registry-1.docker.io.evil.com/nginx",
    ] {
        match outcome(&engine, other).await {
            Outcome::Admit(code, _) => assert_eq!(code, "NoPolicyMatch", "{other}"),
            other_outcome => panic!("{other}: {other_outcome:?}"),
        }
    }
}
