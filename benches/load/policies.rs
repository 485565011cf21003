//! Many teams' policies, for the policy-count benchmarks (`--bench load`'s floor cases and
//! `--bench policy_count`): three in four cluster-wide, one in four namespaced `ImagePolicy`
//! objects in the reviewed Pod's namespace, globs over 50 registries in five shapes, none of
//! them covering the reviewed image; the caller adds the one policy that does.

/// Registries the other teams' globs name.
pub const REGISTRIES: usize = 50;
/// Policies per document: each document stays under the 1 MiB a policy file may hold.
pub const PER_DOCUMENT: usize = 1_000;

/// `count` policies of other teams (numbered from 0), `namespace` the namespaced ones', each a
/// YAML document with `authorities`, cut into documents of [`PER_DOCUMENT`].
pub fn other_teams(count: usize, namespace: &str) -> Vec<String> {
    let policies: Vec<String> = (0..count).map(|i| policy(i, namespace)).collect();
    policies.chunks(PER_DOCUMENT).map(|c| c.concat()).collect()
}

fn policy(i: usize, namespace: &str) -> String {
    let (kind, namespace) = match i % 4 {
        3 => ("ImagePolicy", format!(", namespace: {namespace}")),
        _ => ("ClusterImagePolicy", String::new()),
    };
    format!(
        "---\napiVersion: signet.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: p{i}{namespace}}}\n\
         spec: {{images: [{{glob: \"{}\"}}], authorities: [{{static: {{action: pass}}}}]}}\n",
        other_glob(i)
    )
}

/// A glob of another team: registry `i % 50` (0 is `ghcr.io`, 1 Docker Hub), several shapes.
pub fn other_glob(i: usize) -> String {
    let registry = match i % REGISTRIES {
        0 => "ghcr.io".to_string(),
        1 => "index.docker.io".to_string(),
        2 => "registry.example.com:443".to_string(),
        r => format!("registry-{r}.example.com"),
    };
    match (i / REGISTRIES) % 5 {
        0 => format!("{registry}/team-{i}/**"),
        1 => format!("{registry}/team-{i}/app-*"),
        2 => format!("{registry}/acme-{i}/app"),
        3 => format!("{registry}/team-{i}/*:v1"),
        _ => format!("{registry}/team-{i}/app@**"),
    }
}
