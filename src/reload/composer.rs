//! Policy files plus documents another source pushes (the cluster's policy objects), loaded
//! into one set and swapped into the engine under one lock, so a file reload and a document
//! change never undo each other. Each document is compiled once, when it changes (and again
//! when the files or trust roots change), so one object's change costs one document.
//!
//! Namespaced documents (`ImagePolicy` objects) have a budget per namespace
//! (`--max-policies-per-namespace`), apart from the cluster policies' own: a namespace at its
//! limit cannot add another, so no namespace can crowd out cluster policies or other
//! namespaces. A document refused for the limit is remembered, and while a namespace has one,
//! the engine admits none of its images: a requirement its users wrote is never dropped
//! silently.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::Engine;
use crate::policy::{
    CompiledDocument, LoadError, NamespaceOverLimit, PolicySecrets, PolicySet, TrustRoots,
};

use super::{PolicySources, on_content_change};

/// `--max-policies-per-namespace` by default: far more than a team needs, far fewer than
/// would slow every reload.
pub const DEFAULT_MAX_POLICIES_PER_NAMESPACE: usize = 100;

/// What became of a document [`PolicyComposer::apply`] was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Loaded with everything else and enforced.
    Enforced,
    /// Refused: its namespace already holds `limit` documents. Until it is removed (or applied
    /// again when there is room), the namespace's images are denied.
    OverNamespaceLimit {
        /// The namespace's limit.
        limit: usize,
    },
}

/// A namespaced document's place: its namespace and object name.
#[derive(Debug, Clone, Copy)]
pub struct Namespaced<'a> {
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// `metadata.name`.
    pub name: &'a str,
}

/// Policy files plus pushed documents, by a key such as
/// `ClusterImagePolicy.policy.sigstore.dev/name`.
pub struct PolicyComposer {
    sources: PolicySources,
    engine: Arc<Engine>,
    max_per_namespace: usize,
    /// How policies' Secrets are read: from the cluster once [`Self::set_secrets`] is called.
    secrets: Mutex<PolicySecrets>,
    state: Mutex<State>,
}

/// A document in force: its text, and its objects compiled.
#[derive(Clone)]
struct Stored {
    text: String,
    compiled: CompiledDocument,
}

type Documents = BTreeMap<String, Stored>;

#[derive(Default)]
struct State {
    /// The documents in force, by key.
    documents: Documents,
    /// The namespace of each namespaced document in force, by key.
    namespaces: BTreeMap<String, String>,
    /// Documents refused for their namespace's limit: namespace -> key -> object name.
    refused: BTreeMap<String, BTreeMap<String, String>>,
    /// The set `documents` and the files gave at the last load, before the limits.
    loaded: Option<PolicySet>,
}

impl State {
    fn in_namespace(&self, namespace: &str) -> usize {
        self.namespaces.values().filter(|n| *n == namespace).count()
    }

    /// Forget that `key` was refused for a limit; whether it was.
    fn forget_refused(&mut self, key: &str) -> bool {
        let mut found = false;
        self.refused.retain(|_, keys| {
            found |= keys.remove(key).is_some();
            !keys.is_empty()
        });
        found
    }
}

impl PolicyComposer {
    /// A composer over the files of `sources` (no embedded example: with documents from
    /// elsewhere, no files means no file policies), with the default per-namespace limit.
    pub fn new(sources: PolicySources, engine: Arc<Engine>) -> Self {
        Self {
            sources,
            engine,
            max_per_namespace: DEFAULT_MAX_POLICIES_PER_NAMESPACE,
            secrets: Mutex::new(PolicySecrets::default()),
            state: Mutex::new(State::default()),
        }
    }

    /// At most `limit` namespaced documents per namespace (0: none is accepted).
    pub fn with_max_policies_per_namespace(mut self, limit: usize) -> Self {
        self.max_per_namespace = limit;
        self
    }

    /// Read policies' Secrets as `secrets` says from now on, and compile every document again
    /// with them (see [`Self::reload`]).
    pub fn set_secrets(&self, secrets: PolicySecrets) -> Result<(), LoadError> {
        *self.secrets.lock().unwrap_or_else(|e| e.into_inner()) = secrets;
        self.reload()
    }

    /// The trust roots of the files, with the Secrets as set.
    fn roots(&self) -> Result<TrustRoots, LoadError> {
        let secrets = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(TrustRoots::load(&self.sources.trust_roots)?.with_secrets(secrets))
    }

    /// Read the files and trust roots again and compile every document with them; swap the
    /// set in, or keep everything as it was if anything is refused.
    pub fn reload(&self) -> Result<(), LoadError> {
        let mut state = self.lock();
        let roots = self.roots()?;
        let mut candidate = Documents::new();
        for (key, stored) in &state.documents {
            let compiled = CompiledDocument::compile(&stored.text, key, &roots)?;
            let text = stored.text.clone();
            candidate.insert(key.clone(), Stored { text, compiled });
        }
        let set = self.load(&candidate, &roots)?;
        state.documents = candidate;
        self.publish(&mut state, set);
        Ok(())
    }

    /// Add or replace the document `key`, validated with everything else in force. A new
    /// namespaced document beyond its namespace's limit is refused and remembered: the set in
    /// force then denies that namespace's images.
    pub fn apply(
        &self,
        key: &str,
        text: &str,
        namespaced: Option<Namespaced<'_>>,
    ) -> Result<Applied, LoadError> {
        let mut state = self.lock();
        if let Some(Namespaced { namespace, name }) = namespaced {
            let new = !state.namespaces.contains_key(key);
            if new && state.in_namespace(namespace) >= self.max_per_namespace {
                state
                    .refused
                    .entry(namespace.to_string())
                    .or_default()
                    .insert(key.to_string(), name.to_string());
                let set = self.loaded(&state)?;
                self.publish(&mut state, set);
                let limit = self.max_per_namespace;
                return Ok(Applied::OverNamespaceLimit { limit });
            }
        }
        let candidate = self.with_document(&state, key, text);
        // From here on the document is judged on its content, not on the limit: a refusal says
        // why (its status), as for any object, and no longer holds its namespace.
        let was_refused = state.forget_refused(key);
        let (candidate, set) = match candidate {
            Ok(loaded) => loaded,
            Err(error) => {
                if was_refused {
                    let set = self.loaded(&state)?;
                    self.publish(&mut state, set);
                }
                return Err(error);
            }
        };
        state.documents = candidate;
        if let Some(Namespaced { namespace, .. }) = namespaced {
            state
                .namespaces
                .insert(key.to_string(), namespace.to_string());
        }
        self.publish(&mut state, set);
        Ok(Applied::Enforced)
    }

    /// The documents in force with `key` set to `text`, and the set they load to.
    fn with_document(
        &self,
        state: &State,
        key: &str,
        text: &str,
    ) -> Result<(Documents, PolicySet), LoadError> {
        let roots = self.roots()?;
        let compiled = CompiledDocument::compile(text, key, &roots)?;
        let mut candidate = state.documents.clone();
        let text = text.to_string();
        candidate.insert(key.to_string(), Stored { text, compiled });
        let set = self.load(&candidate, &roots)?;
        Ok((candidate, set))
    }

    /// Remove the documents `keys`, in force or refused for a limit.
    pub fn remove(&self, keys: &[String]) -> Result<(), LoadError> {
        let mut state = self.lock();
        let mut candidate = state.documents.clone();
        let mut changed = false;
        for key in keys {
            changed |= candidate.remove(key).is_some();
        }
        let set = match changed {
            true => self.load(&candidate, &self.roots()?)?,
            false => self.loaded(&state)?,
        };
        for key in keys {
            state.namespaces.remove(key);
            state.forget_refused(key);
        }
        state.documents = candidate;
        self.publish(&mut state, set);
        Ok(())
    }

    /// The text in force for `key`, if any.
    pub fn document(&self, key: &str) -> Option<String> {
        let state = self.lock();
        state.documents.get(key).map(|stored| stored.text.clone())
    }

    /// The keys in force or refused for a limit.
    pub fn keys(&self) -> Vec<String> {
        let state = self.lock();
        let refused = state.refused.values().flat_map(|keys| keys.keys());
        state.documents.keys().chain(refused).cloned().collect()
    }

    /// Whether `key` was refused for its namespace's limit.
    pub fn is_over_limit(&self, key: &str) -> bool {
        let state = self.lock();
        state.refused.values().any(|keys| keys.contains_key(key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The set of the last load, or a fresh load when there was none.
    fn loaded(&self, state: &State) -> Result<PolicySet, LoadError> {
        match &state.loaded {
            Some(set) => Ok(set.clone()),
            None => self.load(&state.documents, &self.roots()?),
        }
    }

    /// Keep `set` as the last load and swap it, with the namespaces over their limit, into
    /// the engine.
    fn publish(&self, state: &mut State, set: PolicySet) {
        let over_limit = state
            .refused
            .iter()
            .map(|(namespace, keys)| {
                let mut refused: Vec<String> = keys.values().cloned().collect();
                refused.sort();
                let limit = self.max_per_namespace;
                (namespace.clone(), NamespaceOverLimit { limit, refused })
            })
            .collect();
        self.engine
            .replace_policies(set.clone().with_namespace_over_limit(over_limit));
        state.loaded = Some(set);
    }

    /// The files with `documents`, and the per-namespace files.
    fn load(&self, documents: &Documents, roots: &TrustRoots) -> Result<PolicySet, LoadError> {
        let compiled = documents.values().map(|stored| &stored.compiled);
        let set = PolicySet::load_with_compiled(&self.sources.paths, compiled, roots)?;
        let set = match &self.sources.namespace_dir {
            Some(dir) => set.with_namespace_dir(dir, roots)?,
            None => set,
        };
        super::NotationSources::apply(self.sources.notation.as_ref(), set)
    }

    /// Poll the files every `interval`; on a content change reload files and documents
    /// together, calling `report(ok)`. The files are read when this is called.
    pub fn watch_files(
        self: Arc<Self>,
        interval: Duration,
        report: impl Fn(bool) + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let watched: Vec<PathBuf> = self.sources.watched();
        on_content_change(watched, interval, move || {
            let result = self.reload();
            if let Err(error) = &result {
                tracing::warn!(%error, "new policy refused; keeping the policy in force");
            }
            report(result.is_ok());
        })
    }
}
