//! The index selects exactly what a scan of every policy selects, in the same order, over many
//! generated globs and images (a fixed seed, so a failure repeats).

use super::super::{ImagePolicy, PolicySet};
use crate::reference::ImageReference;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_DIGEST: &str =
    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// xorshift64*: a fixed seed, no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Registries in every spelling a glob or an image may use: Docker Hub's names, `:443`, other
/// ports, case, look-alikes.
const HOSTS: &[&str] = &[
    "ghcr.io",
    "GHCR.IO",
    "ghcr.io:443",
    "ghcr.io:4443",
    "ghcr.io.evil.com",
    "quay.io",
    "localhost:5000",
    "localhost",
    "127.0.0.1:5000",
    "registry.example.com:8443",
    "docker.io",
    "DOCKER.IO:443",
    "index.docker.io",
    "index.docker.io:443",
    "registry-1.docker.io",
    "registry-1.docker.io:443",
    "registry-2.docker.io",
    "Foo",
];

/// Host parts only a glob has: wildcards, partial names.
const GLOB_HOSTS: &[&str] = &[
    "*",
    "**",
    "*.io",
    "ghc*",
    "ghcr.*",
    "*.docker.io",
    "index.docker.*",
    "?hcr.io",
    "local*",
    "quay.io:*",
];

const SEGMENTS: &[&str] = &[
    "org", "team-a", "team-b", "app", "app-1", "library", "nginx", "x",
];

const GLOB_SEGMENTS: &[&str] = &["*", "**", "app*", "te*", "team-?", "?pp", "*-1", "n**"];

const TAGS: &[&str] = &["v1", "latest", "1.27", "v2"];

const GLOB_TAGS: &[&str] = &["v1", "latest", "*", "v?", "1.*"];

/// A glob: an optional host, one to three segments, an optional tag and digest.
fn glob(random: &mut Random) -> String {
    let mut text = match random.below(5) {
        0 => String::new(),
        1 => format!("{}/", random.pick(GLOB_HOSTS)),
        _ => format!("{}/", random.pick(HOSTS)),
    };
    let segments = 1 + random.below(3);
    let parts: Vec<&str> = (0..segments)
        .map(|_| match random.below(3) {
            0 => random.pick(GLOB_SEGMENTS),
            _ => random.pick(SEGMENTS),
        })
        .collect();
    text.push_str(&parts.join("/"));
    if random.below(5) == 0 {
        text = random
            .pick(&["*", "**", "*/*", "ghc**", "inde**", "*/**"])
            .to_string();
    }
    if random.below(5) == 0 {
        text.push(':');
        text.push_str(random.pick(GLOB_TAGS));
    }
    if random.below(5) == 0 {
        text.push('@');
        text.push_str(random.pick(&["**", "*", "sha256:*", "sha256:**", DIGEST, OTHER_DIGEST]));
    }
    text
}

/// An image reference as a pod may write it.
fn image(random: &mut Random) -> String {
    let mut text = match random.below(4) {
        0 => String::new(),
        _ => format!("{}/", random.pick(HOSTS)),
    };
    let segments = 1 + random.below(3);
    let parts: Vec<&str> = (0..segments).map(|_| random.pick(SEGMENTS)).collect();
    text.push_str(&parts.join("/"));
    match random.below(4) {
        0 => {}
        1 => text.push_str(&format!("@{}", random.pick(&[DIGEST, OTHER_DIGEST]))),
        2 => text.push_str(&format!(":{}@{DIGEST}", random.pick(TAGS))),
        _ => text.push_str(&format!(":{}", random.pick(TAGS))),
    }
    text
}

/// `count` policies, cluster-wide or in namespace `a` or `b`, each with one to three globs,
/// some naming a placeholder.
fn policies(random: &mut Random, count: usize) -> String {
    (0..count)
        .map(|i| {
            let globs: Vec<String> = (0..1 + random.below(3))
                .map(|_| format!("{{glob: \"{}\"}}", glob(random)))
                .collect();
            let (kind, namespace) = match random.below(3) {
                0 => ("ImagePolicy", ", namespace: a"),
                1 => ("ImagePolicy", ", namespace: b"),
                _ => ("ClusterImagePolicy", ""),
            };
            let placeholders = match random.below(8) {
                0 => ", placeholders: [{image: auto, injector: x, containers: [c]}]",
                _ => "",
            };
            format!(
                "---\napiVersion: signet.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: p{i}{namespace}}}\n\
                 spec: {{images: [{}], authorities: [{{static: {{action: pass}}}}]{placeholders}}}\n",
                globs.join(", ")
            )
        })
        .collect()
}

fn names(policies: &[&ImagePolicy]) -> Vec<String> {
    policies.iter().map(|p| p.display_name()).collect()
}

/// The same policies, the same order: compared by address, so two policies with one name
/// cannot stand in for each other.
fn same(a: &[&ImagePolicy], b: &[&ImagePolicy]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| std::ptr::eq(*x, *y))
}

/// 300 generated policies (600-odd globs) against 600 generated images in three
/// namespaces; the selections must be non-trivial (many matches, of literal-prefix globs
/// too), else the test proves nothing, and the index must narrow (fewer candidates than half
/// the policies), else it indexes nothing.
#[test]
fn index_selects_what_a_scan_selects() {
    let mut random = Random(0x5167_0019);
    let set = PolicySet::from_yaml(&policies(&mut random, 300), "generated").unwrap();
    let mut matched = 0;
    let mut by_literal_glob = 0;
    let mut candidates = 0;
    for _ in 0..600 {
        let text = image(&mut random);
        let Ok(image) = ImageReference::parse(&text) else {
            continue;
        };
        candidates += set.index.candidates(&image).len();
        for namespace in [None, Some("a"), Some("b")] {
            let indexed = set.select(&image, namespace);
            let scanned = set.select_by_scan(&image, namespace);
            assert!(
                same(&indexed, &scanned),
                "{text} in {namespace:?}: index {:?}, scan {:?}",
                names(&indexed),
                names(&scanned)
            );
            matched += scanned.len();
            let literal = |p: &&&ImagePolicy| {
                p.images
                    .iter()
                    .any(|g| !g.literal_prefix().is_empty() && g.matches(&image))
            };
            by_literal_glob += scanned.iter().filter(literal).count();
        }
    }
    assert!(matched > 20_000, "only {matched} matches");
    assert!(
        by_literal_glob > 5_000,
        "only {by_literal_glob} by literal globs"
    );
    // The index narrows, though here about a third of the policies have a glob starting with
    // a wildcard (candidates for every image): the benchmark shows it with realistic globs.
    assert!(candidates < 600 * 300 / 2, "{candidates} candidates");
}

/// Placeholders are looked up in the index too: the same policies as a scan of the namespace.
#[test]
fn placeholder_index_selects_what_a_scan_selects() {
    let mut random = Random(0x1900_5167);
    let set = PolicySet::from_yaml(&policies(&mut random, 300), "generated").unwrap();
    for namespace in [None, Some("a"), Some("b"), Some("c")] {
        let scanned: Vec<&ImagePolicy> = set
            .in_namespace(namespace)
            .into_iter()
            .filter(|p| !p.placeholders.is_empty())
            .collect();
        assert!(!scanned.is_empty(), "{namespace:?}");
        assert!(same(&set.naming_placeholders(namespace), &scanned));
    }
}

/// containers-policy.json: the most specific scope, by index and by scan, over generated
/// scopes (hosts, namespaces, repositories, tags, digests, wildcard domains) and images.
#[test]
fn scope_index_selects_what_a_scan_selects() {
    let mut random = Random(0x0019_0019);
    let hosts = [
        "ghcr.io",
        "quay.io",
        "localhost:5000",
        "docker.io",
        "registry.example.com:8443",
    ];
    let mut scopes = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let host = random.pick(&hosts);
        let scope = match random.below(6) {
            0 => host.to_string(),
            1 => format!("*.{}", host.split_once('.').map_or("io", |(_, d)| d)),
            2 => format!("{host}/{}", random.pick(SEGMENTS)),
            3 => format!("{host}/{}:{}", random.pick(SEGMENTS), random.pick(TAGS)),
            4 => format!(
                "{host}/{}/{}@{DIGEST}",
                random.pick(SEGMENTS),
                random.pick(SEGMENTS)
            ),
            _ => format!("{host}/{}/{}", random.pick(SEGMENTS), random.pick(SEGMENTS)),
        };
        let scope = scope
            .replace("localhost:5000", "localhost")
            .replace(":8443", "");
        scopes.insert(scope);
    }
    let requirement = r#"{"type": "insecureAcceptAnything"}"#;
    let entries: Vec<String> = scopes
        .iter()
        .map(|s| format!("{s:?}: [{requirement}, {requirement}]"))
        .collect();
    let json = format!(
        r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{{}}}}}}}"#,
        entries.join(", ")
    );
    let set = PolicySet::from_yaml(&json, "policy.json").unwrap();
    assert!(set.is_containers_policy());
    let mut specific = 0;
    for _ in 0..2_000 {
        let text = image(&mut random);
        let Ok(image) = ImageReference::parse(&text) else {
            continue;
        };
        let indexed = set.select(&image, None);
        let scanned = set.select_by_scan(&image, None);
        assert!(same(&indexed, &scanned), "{text}");
        let docker = |p: &&ImagePolicy| matches!(p.scope, Some(crate::policy::Scope::Docker(_)));
        specific += usize::from(indexed.first().is_some_and(docker));
    }
    assert!(specific > 200, "only {specific} images under a scope");
}
