#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Which children are judged, checked against containerd's own cases and against a model of
//! how containerd and CRI-O pick a child from an index.

use std::collections::HashMap;

use super::*;

const NORMALIZE: &str =
    include_str!("../../../tests/fixtures/third_party/containerd-platforms/normalize.tsv");
const ONLY_MATCHES: &str =
    include_str!("../../../tests/fixtures/third_party/containerd-platforms/only_matches.tsv");
const ONLY_VECTORS: &str =
    include_str!("../../../tests/fixtures/third_party/containerd-platforms/only_vectors.tsv");

/// A platform exactly as an index writes it (`os/arch[/variant]`, nothing checked).
fn written(text: &str) -> Platform {
    let mut parts = text.splitn(3, '/');
    Platform {
        os: parts.next().unwrap_or_default().into(),
        architecture: parts.next().unwrap_or_default().into(),
        variant: parts.next().map(Into::into),
    }
}

fn child(platform: &str, seed: &[u8]) -> PlatformManifest {
    PlatformManifest {
        digest: Digest::sha256_of(seed),
        platform: Some(written(platform)),
    }
}

fn platformless(seed: &[u8]) -> PlatformManifest {
    PlatformManifest {
        digest: Digest::sha256_of(seed),
        platform: None,
    }
}

fn cluster() -> Vec<Platform> {
    vec![written("linux/amd64"), written("linux/arm64")]
}

fn judged(children: &[PlatformManifest], platforms: &[Platform]) -> Vec<Digest> {
    select(children, platforms)
        .into_iter()
        .map(|c| c.digest.clone())
        .collect()
}

/// Whether a child written `spelling`, next to a `linux/amd64` child, is judged on the default
/// cluster.
fn judged_next_to_amd64(spelling: &str) -> bool {
    let other = child(spelling, spelling.as_bytes());
    let children = [child("linux/amd64", b"a"), other.clone()];
    judged(&children, &cluster()).contains(&other.digest)
}

/// Tab-separated rows of a fixture, comments left out.
fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split('\t').collect())
}

#[test]
fn only_children_for_cluster_platforms_are_selected() {
    let children = [
        child("linux/amd64", b"a"),
        child("linux/s390x", b"s"),
        child("linux/arm64/v8", b"b"),
        child("unknown/unknown", b"att"),
    ];
    let digests = judged(&children, &cluster());
    assert_eq!(
        digests,
        [children[0].digest.clone(), children[2].digest.clone()]
    );
}

#[test]
fn an_index_with_nothing_for_the_cluster_needs_every_child() {
    let children = [child("windows/amd64", b"w1"), child("windows/arm64", b"w2")];
    assert_eq!(select(&children, &cluster()).len(), 2);
}

#[test]
fn attestations_alone_select_nothing_and_all_platforms_takes_every_runnable_child() {
    assert!(select(&[child("unknown/unknown", b"att")], &cluster()).is_empty());
    assert!(select(&[child("UNKNOWN/Unknown", b"att")], &cluster()).is_empty());
    // allPlatforms: a platformless child does not hide the others (issue 15, item 2).
    let children = [
        child("linux/amd64", b"a"),
        platformless(b"none"),
        child("linux/s390x", b"s"),
        child("unknown/unknown", b"att"),
    ];
    assert_eq!(runnable(&children).count(), 3);
}

/// Every spelling a runtime reads as a cluster platform is judged, wherever it stands in the
/// index, next to base children for both cluster platforms.
#[test]
fn every_spelling_a_runtime_reads_as_a_cluster_platform_is_judged() {
    for spelling in [
        "linux/x86_64",
        "linux/X86_64",
        "linux/x86-64",
        "Linux/amd64",
        "LINUX/AMD64",
        "linux/amd64/v1",
        "linux/amd64/v3",
        "linux/aarch64",
        "linux/Aarch64",
        "linux/AARCH64/V8",
        "linux/arm64/v8",
        "linux/arm64/8",
        "linux/arm64/v9",
    ] {
        for unsigned_first in [true, false] {
            let odd = child(spelling, spelling.as_bytes());
            let mut children = vec![child("linux/amd64", b"a"), child("linux/arm64", b"b")];
            if unsigned_first {
                children.insert(0, odd.clone());
            } else {
                children.push(odd.clone());
            }
            let digests = judged(&children, &cluster());
            assert!(digests.contains(&odd.digest), "{spelling} not judged");
            assert_eq!(digests.len(), 3, "{spelling}");
        }
    }
}

/// A fallback architecture (`386` on amd64 nodes, 32-bit `arm` on arm64 nodes) is judged when
/// the index has no base child of the node's own architecture (an amd64 node without a v1 child
/// takes `386`), and not next to one (containerd ranks the base child first, CRI-O never falls
/// back).
#[test]
fn fallback_architectures_are_judged_when_no_base_child_runs_first() {
    let fallbacks = [
        ("linux/i386", "linux/amd64"),
        ("linux/386", "linux/amd64"),
        ("linux/armhf", "linux/arm64"),
        ("linux/armel", "linux/arm64"),
        ("linux/arm", "linux/arm64"),
        ("linux/arm/v5", "linux/arm64"),
        ("Linux/ARM/V8", "linux/arm64"),
    ];
    for (spelling, node) in fallbacks {
        let fallback = child(spelling, spelling.as_bytes());
        let base = child(node, node.as_bytes());
        let judged_with = |others: Vec<PlatformManifest>| {
            let mut children = others;
            children.insert(0, fallback.clone());
            judged(&children, &cluster()).contains(&fallback.digest)
        };
        assert!(
            !judged_with(vec![base.clone()]),
            "{spelling} next to {node}"
        );
        let other_node = if node.ends_with("amd64") {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        assert!(
            judged_with(vec![child(other_node, b"other")]),
            "{spelling} alone for {node}"
        );
        let higher_only = format!("{node}/v9");
        assert!(
            judged_with(vec![
                child(&higher_only, b"v9"),
                child(other_node, b"other")
            ]),
            "{spelling} next to {higher_only} only"
        );
    }
}

/// A platform Signet cannot place is judged (fail closed): some runtime may read it as the
/// node's own.
#[test]
fn platforms_that_do_not_normalise_are_judged() {
    for spelling in [
        "linux/x86_32",
        "/amd64",
        "linux/",
        "linux/amd64 ",
        " linux/amd64",
        "l\u{0130}nux/amd64",
        "linux/\u{212A}amd64",
        "linux/amd64/\u{0130}",
        "plan10/amd64",
    ] {
        assert!(judged_next_to_amd64(spelling), "{spelling:?} not judged");
    }
}

#[test]
fn a_long_platform_is_clipped_in_messages() {
    let long = format!("linux/{}", "x".repeat(10_000));
    let label = platform_label(&child(&long, b"long"));
    assert!(label.len() < 400, "{label}");
    assert!(label.contains("cannot normalise"), "{label}");
}

#[test]
fn other_platforms_are_not_judged_when_the_cluster_has_a_child() {
    for spelling in [
        "linux/s390x",
        "windows/amd64",
        "linux/riscv64",
        "linux/ppc64le",
        "darwin/arm64",
    ] {
        assert!(!judged_next_to_amd64(spelling), "{spelling}");
    }
}

#[test]
fn normalisation_agrees_with_containerd_cases() {
    let mut count = 0;
    for row in rows(NORMALIZE) {
        let (input, expected) = (row[0], written(row[1]));
        assert_eq!(written(input).normalised(), Some(expected), "{input}");
        count += 1;
    }
    assert!(count > 30, "{count} rows");
}

/// containerd's platform vectors, read from the fixture: node -> accepted platforms, best first.
fn vectors() -> HashMap<String, Vec<Platform>> {
    rows(ONLY_VECTORS)
        .map(|row| (row[0].to_string(), row[1].split(',').map(written).collect()))
        .collect()
}

/// What containerd's `Only(node).Match(child)` answers, from its vector.
fn containerd_rank(vector: &[Platform], child: &Platform) -> Option<usize> {
    let read = normalised_for_model(child)?;
    vector.iter().position(|accepted| *accepted == read)
}

/// The model's normalisation: the fixture's table where it has the spelling, else the spelling
/// itself when it is already in canonical form (lower-case known names), else no match.
fn normalised_for_model(child: &Platform) -> Option<Platform> {
    let text = child.to_string();
    rows(NORMALIZE)
        .find(|row| row[0] == text)
        .map(|row| written(row[1]))
        .or_else(|| (text == text.to_ascii_lowercase()).then(|| child.clone()))
}

#[test]
fn the_vector_fixture_agrees_with_containerd_test_only() {
    let vectors = vectors();
    let mut checked = 0;
    for row in rows(ONLY_MATCHES) {
        let Some(vector) = vectors.get(row[0]) else {
            continue;
        };
        let expected = row[2] == "true";
        assert_eq!(
            containerd_rank(vector, &written(row[1])).is_some(),
            expected,
            "Only({}).Match({})",
            row[0],
            row[1]
        );
        checked += 1;
    }
    assert!(checked >= 80, "{checked} rows checked");
}

/// Every child containerd's `Only(node)` accepts is judged for that node (Signet judges more:
/// it ignores variants, since `--platforms` does not say a node's CPU variant).
#[test]
fn every_child_containerd_matches_is_judged() {
    for row in rows(ONLY_MATCHES) {
        let (node, spelling) = (written(row[0]), row[1]);
        let candidate = child(spelling, spelling.as_bytes());
        let judged = judged(
            std::slice::from_ref(&candidate),
            std::slice::from_ref(&node),
        );
        if row[2] == "true" {
            assert_eq!(
                judged,
                std::slice::from_ref(&candidate.digest),
                "{node} {spelling}"
            );
        }
    }
}

/// CRI-O's (containers/image) choice: `WantedPlatforms` tries the node's variant and its
/// compatible lower ones (`arm`: v7, v6, v5; `arm64`: v8) then no variant, or, with no variant,
/// no variant then the base variant (`arm64`: v8); strings compared exactly; first match in
/// index order for the first wanted platform that has one.
fn crio_pick<'c>(
    children: &'c [PlatformManifest],
    node: &Platform,
) -> Option<&'c PlatformManifest> {
    let compatible: &[&str] = match node.architecture.as_str() {
        "arm" => &["v7", "v6", "v5"],
        "arm64" => &["v8"],
        _ => &[],
    };
    let mut wanted: Vec<&str> = match node.variant.as_deref() {
        Some(variant) => {
            let from = compatible.iter().position(|v| *v == variant);
            from.map_or_else(|| vec![variant], |i| compatible[i..].to_vec())
        }
        None => vec![""],
    };
    match node.variant {
        Some(_) => wanted.push(""),
        None if node.architecture == "arm64" => wanted.push("v8"),
        None => {}
    }
    wanted.iter().find_map(|variant| {
        children.iter().find(|c| {
            c.platform.as_ref().is_some_and(|p| {
                p.os == node.os
                    && p.architecture == node.architecture
                    && p.variant.as_deref().unwrap_or("") == *variant
            })
        })
    })
}

/// containerd's choice (`images.Manifest`, `LimitManifests`): the children its matcher accepts
/// or that name no platform, stably sorted best first (platformless last), the first taken.
fn containerd_pick<'c>(
    children: &'c [PlatformManifest],
    vector: &[Platform],
) -> Option<&'c PlatformManifest> {
    let ranked = children.iter().filter_map(|c| match &c.platform {
        None => Some((usize::MAX, c)),
        Some(p) => containerd_rank(vector, p).map(|rank| (rank, c)),
    });
    let mut ranked: Vec<_> = ranked.collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.first().map(|(_, c)| *c)
}

/// A small seeded generator, so a failure is reproducible from the printed seed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// For random indexes and random clusters, the judged set holds the child containerd picks and
/// the child CRI-O picks on every cluster platform.
#[test]
fn the_judged_set_holds_what_containerd_and_crio_pick_for_random_indexes() {
    let vectors = vectors();
    let nodes: Vec<&String> = {
        let mut nodes: Vec<_> = vectors.keys().collect();
        nodes.sort();
        nodes
    };
    let mut spellings: Vec<&str> = rows(NORMALIZE).map(|row| row[0]).collect();
    spellings.extend(rows(ONLY_MATCHES).map(|row| row[1]));
    spellings.extend([
        "unknown/unknown",
        "linux/x86_32",
        "linux/",
        "/amd64",
        "linux/s390x",
        "linux/riscv64",
        "", // no platform
    ]);
    let mut random = XorShift(0x5167_6e65_7431_3521);
    for round in 0..3000 {
        let count = 1 + random.below(6);
        let children: Vec<PlatformManifest> = (0..count)
            .map(|i| {
                let spelling = spellings[random.below(spellings.len())];
                let seed = format!("{round}/{i}/{spelling}");
                match spelling {
                    "" => platformless(seed.as_bytes()),
                    _ => child(spelling, seed.as_bytes()),
                }
            })
            .collect();
        let cluster: Vec<&String> = (0..1 + random.below(3))
            .map(|_| nodes[random.below(nodes.len())])
            .collect();
        let platforms: Vec<Platform> = cluster.iter().map(|n| written(n)).collect();
        let judged = judged(&children, &platforms);
        for node in &cluster {
            let picks = [
                containerd_pick(&children, &vectors[*node]),
                crio_pick(&children, &written(node)),
            ];
            for pick in picks.into_iter().flatten() {
                assert!(
                    judged.contains(&pick.digest),
                    "round {round}: node {node} pulls {:?} but Signet judges only {judged:?} of {children:?}",
                    pick.platform
                );
            }
        }
    }
}
