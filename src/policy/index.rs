//! Which policies may cover an image, found without looking at every policy (issue 19): a
//! review must not cost more with 100,000 policies than with one.
//!
//! Globs are indexed by their literal prefix ([`ImageGlob::literal_prefix`]: the normalised
//! glob up to its first wildcard, so its registry host is already canonical: Docker Hub's names
//! are `docker.io`, `host:443` is `host`). The prefix is split at `/` into a path of whole
//! segments, which is a path in a tree of segments (`ghcr.io` -> `team-a`), and a partial last
//! segment kept at that node (`app-*` keeps `app-`; `ghcr.io/**` keeps `""` at `ghcr.io`; a glob
//! starting with a wildcard keeps `""` at the root, so it is a candidate for every image).
//! An image is looked up by each name the matcher tries ([`glob::spellings`]: as written, the
//! canonical registry, Docker Hub's `index.docker.io`): walking its segments down the tree,
//! every partial at a node that starts the segment there is a candidate. That costs the length
//! of the name (times the few distinct partial lengths at each node), not the number of
//! policies.
//!
//! The index only narrows: every candidate is still matched by [`ImageGlob::matches`] in load
//! order, so the policies selected, and their order, are those of a scan of every policy
//! (`tests::index_selects_what_a_scan_selects`). containers-policy.json scopes and placeholders
//! are indexed too, by exact scope and by whether a policy names any placeholder.

use std::collections::HashMap;

use super::glob::{self, ImageGlob};
use super::model::{ImagePolicy, Scope};
use crate::reference::ImageReference;

/// Positions in the policy list.
type Position = u32;

/// The indexes of one policy set.
#[derive(Debug, Clone, Default)]
pub(super) struct PolicyIndex {
    globs: GlobIndex,
    /// containers-policy.json requirements by scope, in load order.
    scopes: HashMap<Scope, Vec<Position>>,
    /// Policies that name placeholders, in load order.
    placeholders: Vec<Position>,
}

impl PolicyIndex {
    /// Index `policies` (at most `u32::MAX`; the set's limit is far below).
    pub(super) fn build(policies: &[ImagePolicy]) -> Self {
        let mut index = PolicyIndex::default();
        for (position, policy) in (0..).zip(policies) {
            for glob in &policy.images {
                index.globs.insert(glob, position);
            }
            if let Some(scope) = &policy.scope {
                index
                    .scopes
                    .entry(scope.clone())
                    .or_default()
                    .push(position);
            }
            if !policy.placeholders.is_empty() {
                index.placeholders.push(position);
            }
        }
        index
    }

    /// Positions of the policies with a glob that may cover `image`, ascending, each once: a
    /// superset of those whose globs match it.
    pub(super) fn candidates(&self, image: &ImageReference) -> Vec<usize> {
        let mut found = Vec::new();
        for name in glob::spellings(image) {
            self.globs.collect(&name, &mut found);
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(position).collect()
    }

    /// Positions of the requirements of `scope`, in load order.
    pub(super) fn scope<'a>(&'a self, scope: &Scope) -> impl Iterator<Item = usize> + use<'a> {
        self.scopes
            .get(scope)
            .into_iter()
            .flatten()
            .copied()
            .map(position)
    }

    /// Positions of the policies that name placeholders, in load order.
    pub(super) fn placeholders(&self) -> impl Iterator<Item = usize> + '_ {
        self.placeholders.iter().copied().map(position)
    }
}

fn position(p: Position) -> usize {
    // u32 always fits usize on the 32- and 64-bit targets Signet builds for.
    p as usize
}

/// A tree of whole literal segments; each node keeps the partial segments that end a prefix.
#[derive(Debug, Clone)]
struct GlobIndex {
    nodes: Vec<Node>,
}

impl Default for GlobIndex {
    fn default() -> Self {
        GlobIndex {
            nodes: vec![Node::default()],
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// The next whole segment -> its node.
    children: HashMap<Box<str>, usize>,
    /// A partial segment ending a literal prefix -> the policies with such a glob.
    partials: HashMap<Box<str>, Vec<Position>>,
    /// The distinct lengths of `partials`' keys, ascending: the prefixes of a segment to try.
    lengths: Vec<usize>,
}

impl GlobIndex {
    fn insert(&mut self, glob: &ImageGlob, position: Position) {
        let prefix = glob.literal_prefix();
        let (path, partial) = match prefix.rsplit_once('/') {
            Some((path, partial)) => (Some(path), partial),
            None => (None, prefix),
        };
        let mut node = 0;
        for segment in path.into_iter().flat_map(|p| p.split('/')) {
            node = match self.nodes[node].children.get(segment) {
                Some(&child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node].children.insert(segment.into(), child);
                    child
                }
            };
        }
        let node = &mut self.nodes[node];
        if let Err(at) = node.lengths.binary_search(&partial.len()) {
            node.lengths.insert(at, partial.len());
        }
        node.partials
            .entry(partial.into())
            .or_default()
            .push(position);
    }

    /// Add to `found` the policies of every literal prefix that `name` starts with.
    fn collect(&self, name: &str, found: &mut Vec<Position>) {
        let mut node = &self.nodes[0];
        for segment in name.split('/') {
            for &length in &node.lengths {
                if length > segment.len() {
                    break;
                }
                let Some(start) = segment.get(..length) else {
                    continue;
                };
                if let Some(positions) = node.partials.get(start) {
                    found.extend_from_slice(positions);
                }
            }
            match node.children.get(segment) {
                Some(&child) => node = &self.nodes[child],
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests;
