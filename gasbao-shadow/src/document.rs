//! One shadow document and the AWS update rules.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::commands::{Command, CommandLog};
use crate::error::Rejection;
use crate::hlc::VersionStamp;
use crate::json::{self, member_len};
use crate::metadata::{Metadata, StoredMetadata, Written};
use crate::request::{SectionUpdate, UpdateRequest};
use crate::response::{DeltaMessage, UpdateAccepted};
use crate::rules::{Decision, FieldPolicy, ShadowRules, Side};
use crate::time::Timestamp;

/// A device shadow: desired and reported state, the delta between them,
/// per-leaf metadata, and a version that every accepted update bumps by one.
///
/// Updates follow the AWS IoT Device Shadow service: members merge one by
/// one, `null` deletes, arrays are replaced whole, an object or section
/// left empty is removed, and `delta` holds exactly the desired leaves that
/// `reported` does not match, with the path to them.
///
/// # Examples
///
/// ```
/// use gasbao_shadow::{ShadowDocument, ShadowRules, Timestamp, UpdateRequest};
/// use serde_json::json;
///
/// let rules = ShadowRules::default();
/// let mut shadow = ShadowDocument::new();
/// let close = UpdateRequest::parse(br#"{"state": {"desired": {"valve": "closed", "interval": 900}}}"#, &rules.limits)?;
/// let outcome = shadow.update(close, Timestamp::from_secs(1_700_000_000), &rules)?;
/// assert_eq!(outcome.accepted.version, 1);
///
/// let report = UpdateRequest::parse(br#"{"state": {"reported": {"valve": "open", "interval": 900.0}}}"#, &rules.limits)?;
/// shadow.update(report, Timestamp::from_secs(1_700_000_060), &rules)?;
/// // 900 and 900.0 are the same number: only the valve differs.
/// assert_eq!(serde_json::Value::Object(shadow.delta().clone()), json!({"valve": "closed"}));
/// # Ok::<(), gasbao_shadow::Rejection>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowDocument {
    desired: Section,
    reported: Section,
    delta: Map<String, Value>,
    version: u64,
    timestamp: Timestamp,
    conflicts: Vec<FieldConflict>,
    commands: CommandLog,
}

/// `desired` or `reported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionName {
    /// What the back end wants.
    Desired,
    /// What the device last said.
    Reported,
}

/// A field that a replayed device write and the cloud both changed, which
/// its [`FieldPolicy::Manual`] (or a custom policy) would not merge. The
/// cloud keeps its value until [`ShadowDocument::resolve_conflict`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// Which section.
    pub section: SectionName,
    /// The field's dotted path.
    pub path: String,
    /// The cloud's value (`None`: absent).
    pub cloud: Option<Value>,
    /// The device's value (`None`: it deleted the field).
    pub device: Option<Value>,
    /// When the device wrote it.
    pub device_stamp: VersionStamp,
}

/// How to settle a [`FieldConflict`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConflictChoice {
    /// Keep the cloud's value.
    Cloud,
    /// Take the device's value.
    Device,
    /// Store this value instead.
    Value(Value),
}

/// Who is writing, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteContext {
    /// Wall-clock time of the write.
    pub at: Timestamp,
    /// Its hybrid-logical-clock stamp.
    pub stamp: VersionStamp,
    /// Set for a write replayed from a device's offline queue; `None`
    /// applies the write as AWS does.
    pub replay: Option<Replayed>,
}

/// Where a replayed write comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// The shadow version the device last synchronised with. Fields
    /// written after it by anyone but this device are merged by the
    /// [`ShadowRules`] policies.
    pub base_version: u64,
    /// The device's origin number (its [`TxId::origin`](crate::TxId::origin)).
    pub origin: u64,
}

impl WriteContext {
    /// A plain update at `at`.
    #[must_use]
    pub fn at(at: Timestamp) -> WriteContext {
        WriteContext {
            at,
            stamp: VersionStamp::from_timestamp(at),
            replay: None,
        }
    }
}

/// What an accepted update did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UpdateOutcome {
    /// The `/update/accepted` reply.
    pub accepted: UpdateAccepted,
    /// The `/update/delta` message, if the update's desired fields differ
    /// from reported.
    pub delta: Option<DeltaMessage>,
    /// False if the update changed nothing and the rules skip no-op updates:
    /// the version did not move.
    pub changed: bool,
    /// Conflicts this update left for someone to resolve.
    pub conflicts: Vec<FieldConflict>,
    /// Desired fields this update removed because the device acknowledged
    /// them or they expired.
    pub cleared: Vec<String>,
    /// Commands this update appended to the command log.
    pub commands: Vec<Command>,
}

/// One section's members, their metadata, and their encoded size.
#[derive(Debug, Clone, Default, PartialEq)]
struct Section {
    members: Map<String, Value>,
    metadata: BTreeMap<String, Metadata>,
    /// Sum of the members' `"key":value` lengths, so that the state size
    /// is known without encoding the document.
    members_len: usize,
}

impl Section {
    /// Bytes of the section as a compact JSON object.
    fn encoded_len(members_len: usize, count: usize) -> usize {
        2 + members_len + count.saturating_sub(1)
    }

    /// Writes a member and its metadata (`None`: removes them); `old_len`
    /// and `new_len` are its `"key":value` sizes before and after.
    fn set(&mut self, key: &str, value: Option<Value>, metadata: Option<Metadata>, old_len: usize, new_len: usize) {
        self.members_len = self.members_len - old_len + new_len;
        match (value, self.members.get_mut(key)) {
            (Some(value), Some(slot)) => *slot = value,
            (Some(value), None) => {
                self.members.insert(key.to_owned(), value);
            }
            (None, _) => {
                self.members.remove(key);
            }
        }
        match (metadata, self.metadata.get_mut(key)) {
            (Some(metadata), Some(slot)) => *slot = metadata,
            (Some(metadata), None) => {
                self.metadata.insert(key.to_owned(), metadata);
            }
            (None, _) => {
                self.metadata.remove(key);
            }
        }
    }

    /// Sets or removes the member at `key`, keeping the size current.
    fn set_member(&mut self, key: &str, value: Option<Value>, metadata: Option<Metadata>) {
        let old_len = self.members.get(key).map_or(0, |old| member_len(key, old));
        let new_len = value.as_ref().map_or(0, |new| member_len(key, new));
        self.set(key, value, metadata, old_len, new_len);
    }
}

/// An update's new value for one top-level member, checked but not applied.
struct Staged<'p> {
    section: SectionName,
    key: Cow<'p, str>,
    value: Option<Value>,
    metadata: Option<Metadata>,
    /// `"key":value` bytes before and after (0: absent).
    old_len: usize,
    new_len: usize,
    /// The new value equals the old one (by value, `2` = `2.0`).
    unchanged: bool,
}

impl ShadowDocument {
    /// An empty shadow at version 0: the next accepted update makes version 1.
    #[must_use]
    pub fn new() -> ShadowDocument {
        ShadowDocument::default()
    }

    /// `state.desired`.
    #[must_use]
    pub fn desired(&self) -> &Map<String, Value> {
        &self.desired.members
    }

    /// `state.reported`.
    #[must_use]
    pub fn reported(&self) -> &Map<String, Value> {
        &self.reported.members
    }

    /// `state.delta`: the desired leaves reported does not match.
    #[must_use]
    pub fn delta(&self) -> &Map<String, Value> {
        &self.delta
    }

    /// `metadata.desired` or `metadata.reported`.
    #[must_use]
    pub fn metadata(&self, section: SectionName) -> &BTreeMap<String, Metadata> {
        &self.section(section).metadata
    }

    /// The version: 0 for a shadow never written, then one more per accepted update.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the last accepted update was made.
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// Conflicts waiting to be resolved.
    #[must_use]
    pub fn conflicts(&self) -> &[FieldConflict] {
        &self.conflicts
    }

    /// The ordered desired values devices must see one by one.
    #[must_use]
    pub fn commands(&self) -> &CommandLog {
        &self.commands
    }

    /// True if the shadow holds no state at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.desired.members.is_empty() && self.reported.members.is_empty()
    }

    /// Bytes of the state document as the size limit counts it: `desired`
    /// and `reported` in compact JSON, without metadata or delta.
    #[must_use]
    pub fn state_len(&self) -> usize {
        state_len(
            (self.desired.members_len, self.desired.members.len()),
            (self.reported.members_len, self.reported.members.len()),
        )
    }

    /// Applies an update at `at`, as the AWS service does.
    ///
    /// # Errors
    ///
    /// [`Rejection::VersionConflict`] (409) if the request names another
    /// version; [`Rejection::TooLarge`] (413) if the state would exceed the
    /// size limit. A rejected update changes nothing.
    pub fn update(
        &mut self,
        request: UpdateRequest,
        at: Timestamp,
        rules: &ShadowRules,
    ) -> Result<UpdateOutcome, Rejection> {
        self.apply(request, WriteContext::at(at), rules)
    }

    /// Applies an update in `context`: a plain update, or a write replayed
    /// from a device's offline queue that the merge policies arbitrate.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn apply(
        &mut self,
        request: UpdateRequest,
        context: WriteContext,
        rules: &ShadowRules,
    ) -> Result<UpdateOutcome, Rejection> {
        if let Some(expected) = request.version
            && expected != self.version
        {
            return Err(Rejection::VersionConflict {
                expected,
                current: self.version,
            });
        }
        let UpdateRequest {
            mut desired,
            mut reported,
            client_token,
            version: _,
        } = request;
        let mut conflicts = Vec::new();
        let mut settled = Vec::new();
        if let Some(replayed) = context.replay {
            for (name, update) in [
                (SectionName::Desired, &mut desired),
                (SectionName::Reported, &mut reported),
            ] {
                if let Some(SectionUpdate::Merge(patch)) = update {
                    let section = self.section(name);
                    let merged = arbitrate(
                        name,
                        std::mem::take(patch),
                        section,
                        replayed,
                        context.stamp,
                        rules,
                        (&mut conflicts, &mut settled),
                    );
                    *patch = merged;
                }
            }
        }
        let written = Written {
            at: context.at,
            version: self.version + 1,
            stamp: context.stamp,
            origin: context.replay.map(|r| r.origin),
        };
        let mut staged = Vec::new();
        self.stage(SectionName::Desired, desired.as_ref(), written, &mut staged);
        self.stage(SectionName::Reported, reported.as_ref(), written, &mut staged);

        let bytes = self.staged_state_len(&staged);
        if bytes > rules.limits.max_state_bytes {
            return Err(Rejection::TooLarge {
                what: "state document",
                bytes,
                max: rules.limits.max_state_bytes,
            });
        }
        let no_op = conflicts.is_empty() && staged.iter().all(|s| s.unchanged);
        if no_op && rules.skip_no_op_updates {
            drop(staged);
            let accepted = UpdateAccepted {
                desired,
                reported,
                version: self.version,
                timestamp: context.at,
                client_token,
            };
            return Ok(UpdateOutcome {
                accepted,
                delta: None,
                changed: false,
                conflicts,
                cleared: Vec::new(),
                commands: Vec::new(),
            });
        }

        let mut touched: Vec<Cow<'_, str>> = Vec::with_capacity(staged.len());
        for staged in staged {
            if !touched.contains(&staged.key) {
                touched.push(staged.key.clone());
            }
            let Staged {
                section,
                key,
                value,
                metadata,
                old_len,
                new_len,
                ..
            } = staged;
            self.section_mut(section).set(&key, value, metadata, old_len, new_len);
        }
        self.version += 1;
        self.timestamp = context.at;
        let commands = self.record_commands(desired.as_ref(), written, rules);
        let mut cleared = self.clear_acknowledged(rules, &mut touched);
        cleared.extend(self.expire_into(context.at, rules, &mut touched));
        for key in &touched {
            self.refresh_delta(key);
        }
        drop(touched);
        // A device value that took effect, or a new conflict, supersedes an
        // open conflict on the same field.
        if !self.conflicts.is_empty() {
            self.conflicts.retain(|old| {
                let superseded = |(section, path): &(SectionName, String)| {
                    *section == old.section && (old.path == *path || old.path.starts_with(&format!("{path}.")))
                };
                !settled.iter().any(superseded)
                    && !conflicts
                        .iter()
                        .any(|new| new.section == old.section && new.path == old.path)
            });
        }
        self.conflicts.extend(conflicts.iter().cloned());

        let delta = match &desired {
            Some(SectionUpdate::Merge(patch)) => self.delta_message(patch, client_token.clone()),
            _ => None,
        };
        let accepted = UpdateAccepted {
            desired,
            reported,
            version: self.version,
            timestamp: context.at,
            client_token,
        };
        Ok(UpdateOutcome {
            accepted,
            delta,
            changed: true,
            conflicts,
            cleared,
            commands,
        })
    }

    /// Removes desired fields whose time to live has passed at `now`;
    /// returns their paths. Bumps the version if it removed any.
    pub fn expire(&mut self, now: Timestamp, rules: &ShadowRules) -> Vec<String> {
        let mut touched = Vec::new();
        let expired = self.expire_into(now, rules, &mut touched);
        if !expired.is_empty() {
            self.version += 1;
            self.timestamp = now;
            for key in &touched {
                self.refresh_delta(key);
            }
        }
        expired
    }

    /// Settles the conflict on `path` in `section` with `choice`, as an
    /// update at `context`. Returns `None` if there is no such conflict.
    ///
    /// # Errors
    ///
    /// [`Rejection::TooLarge`] if the chosen value does not fit; the
    /// conflict then stays.
    pub fn resolve_conflict(
        &mut self,
        section: SectionName,
        path: &str,
        choice: ConflictChoice,
        context: WriteContext,
        rules: &ShadowRules,
    ) -> Result<Option<UpdateOutcome>, Rejection> {
        let Some(index) = self
            .conflicts
            .iter()
            .position(|c| c.section == section && c.path == path)
        else {
            return Ok(None);
        };
        let value = match choice {
            ConflictChoice::Cloud => self.conflicts[index].cloud.clone(),
            ConflictChoice::Device => self.conflicts[index].device.clone(),
            ConflictChoice::Value(value) => Some(value),
        };
        let patch = nest(path, value.unwrap_or(Value::Null));
        let update = Some(SectionUpdate::Merge(patch));
        let request = match section {
            SectionName::Desired => UpdateRequest {
                desired: update,
                ..UpdateRequest::default()
            },
            SectionName::Reported => UpdateRequest {
                reported: update,
                ..UpdateRequest::default()
            },
        };
        let plain = WriteContext {
            replay: None,
            ..context
        };
        let removed = self.conflicts.remove(index);
        match self.apply(request, plain, rules) {
            Ok(outcome) => Ok(Some(outcome)),
            Err(rejection) => {
                self.conflicts.insert(index, removed);
                Err(rejection)
            }
        }
    }

    /// Acknowledges every command up to and including `seq`: the log drops them.
    pub fn acknowledge_commands(&mut self, seq: u64) {
        self.commands.acknowledge(seq);
    }

    /// Checks the document's own invariants: metadata has the shape of the
    /// state, no object is empty, the delta is what a fresh computation
    /// gives, the cached size is the encoded size. For tests and fuzzing;
    /// returns what is wrong, if anything.
    #[must_use]
    pub fn invariant_violation(&self) -> Option<String> {
        for (name, section) in [("desired", &self.desired), ("reported", &self.reported)] {
            let state = Value::Object(section.members.clone());
            let metadata = Metadata::Object(section.metadata.clone());
            if !metadata.matches(&state) {
                return Some(format!("metadata.{name} does not have the shape of state.{name}"));
            }
            if has_empty_object(&state) && !section.members.is_empty() {
                return Some(format!("state.{name} holds an empty object"));
            }
            let members_len: usize = section.members.iter().map(|(k, v)| member_len(k, v)).sum();
            if members_len != section.members_len {
                return Some(format!(
                    "state.{name} is {members_len} bytes of members, cached {}",
                    section.members_len
                ));
            }
        }
        let fresh = json::delta(
            &Value::Object(self.desired.members.clone()),
            Some(&Value::Object(self.reported.members.clone())),
        );
        let fresh = match fresh {
            Some(Value::Object(delta)) => delta,
            _ => Map::new(),
        };
        if fresh != self.delta {
            return Some(format!(
                "delta {} differs from a fresh one {}",
                Value::Object(self.delta.clone()),
                Value::Object(fresh)
            ));
        }
        None
    }

    /// The document as the store writes it.
    pub(crate) fn to_record(&self) -> DocumentRecord {
        let metadata = |section: &Section| section.metadata.iter().map(|(k, m)| (k.clone(), m.into())).collect();
        DocumentRecord {
            desired: self.desired.members.clone(),
            reported: self.reported.members.clone(),
            desired_metadata: metadata(&self.desired),
            reported_metadata: metadata(&self.reported),
            version: self.version,
            timestamp: self.timestamp,
            conflicts: self.conflicts.clone(),
            commands: self.commands.clone(),
        }
    }

    /// The document the store wrote; sizes and delta are recomputed.
    pub(crate) fn from_record(record: DocumentRecord) -> ShadowDocument {
        let section = |members: Map<String, Value>, metadata: BTreeMap<String, StoredMetadata>| Section {
            members_len: members.iter().map(|(k, v)| member_len(k, v)).sum(),
            members,
            metadata: metadata.into_iter().map(|(k, m)| (k, m.into())).collect(),
        };
        let mut document = ShadowDocument {
            desired: section(record.desired, record.desired_metadata),
            reported: section(record.reported, record.reported_metadata),
            delta: Map::new(),
            version: record.version,
            timestamp: record.timestamp,
            conflicts: record.conflicts,
            commands: record.commands,
        };
        let keys: Vec<String> = document.desired.members.keys().cloned().collect();
        for key in keys {
            document.refresh_delta(&key);
        }
        document
    }

    /// Deletes all state, as the shadow delete operation does, keeping the
    /// version (AWS does not reset it).
    pub(crate) fn clear(&mut self, at: Timestamp) {
        let version = self.version;
        *self = ShadowDocument {
            version,
            timestamp: at,
            ..ShadowDocument::default()
        };
    }

    fn section(&self, name: SectionName) -> &Section {
        match name {
            SectionName::Desired => &self.desired,
            SectionName::Reported => &self.reported,
        }
    }

    fn section_mut(&mut self, name: SectionName) -> &mut Section {
        match name {
            SectionName::Desired => &mut self.desired,
            SectionName::Reported => &mut self.reported,
        }
    }

    fn stage<'p>(
        &self,
        name: SectionName,
        update: Option<&'p SectionUpdate>,
        written: Written,
        staged: &mut Vec<Staged<'p>>,
    ) {
        let section = self.section(name);
        match update {
            None => {}
            Some(SectionUpdate::Clear) => staged.extend(section.members.iter().map(|(key, old)| Staged {
                section: name,
                old_len: member_len(key, old),
                key: Cow::Owned(key.clone()),
                value: None,
                metadata: None,
                new_len: 0,
                unchanged: false,
            })),
            Some(SectionUpdate::Merge(patch)) => staged.extend(patch.iter().map(|(key, update)| {
                let old = section.members.get(key);
                // Only an object merges with what is there; anything else replaces it.
                let (value, metadata) = match update {
                    Value::Object(_) => (
                        json::merged(old.cloned(), update.clone()),
                        Metadata::merged(section.metadata.get(key).cloned(), update, written),
                    ),
                    Value::Null => (None, None),
                    _ => (Some(update.clone()), Some(Metadata::of(update, written))),
                };
                let unchanged = match (old, &value) {
                    (Some(old), Some(new)) => json::values_equal(old, new),
                    (None, None) => true,
                    _ => false,
                };
                Staged {
                    section: name,
                    key: Cow::Borrowed(key),
                    old_len: old.map_or(0, |old| member_len(key, old)),
                    new_len: value.as_ref().map_or(0, |new| member_len(key, new)),
                    value,
                    metadata,
                    unchanged,
                }
            })),
        }
    }

    fn staged_state_len(&self, staged: &[Staged<'_>]) -> usize {
        let mut sizes = [
            (self.desired.members_len, self.desired.members.len()),
            (self.reported.members_len, self.reported.members.len()),
        ];
        for s in staged {
            let (len, count) = &mut sizes[s.section as usize];
            *len = *len - s.old_len + s.new_len;
            // Every member takes at least `"":` bytes: a length of 0 is absence.
            if s.old_len > 0 {
                *count -= 1;
            }
            if s.value.is_some() {
                *count += 1;
            }
        }
        state_len(sizes[0], sizes[1])
    }

    fn refresh_delta(&mut self, key: &str) {
        let Some(desired) = self.desired.members.get(key) else {
            self.delta.remove(key);
            return;
        };
        let reported = self.reported.members.get(key);
        // A scalar is in the delta whole or not at all: decide without cloning.
        let differs = match (desired, reported) {
            (Value::Object(_), Some(Value::Object(_))) => None,
            (desired, Some(reported)) => Some(!json::values_equal(desired, reported)),
            (_, None) => Some(true),
        };
        let delta = match differs {
            Some(false) => None,
            Some(true) => {
                if let Some(slot) = self.delta.get_mut(key) {
                    if slot != desired {
                        *slot = desired.clone();
                    }
                    return;
                }
                Some(desired.clone())
            }
            None => json::delta(desired, reported),
        };
        match delta {
            Some(delta) => match self.delta.get_mut(key) {
                Some(slot) => *slot = delta,
                None => {
                    self.delta.insert(key.to_owned(), delta);
                }
            },
            None => {
                self.delta.remove(key);
            }
        }
    }

    fn delta_message(&self, patch: &Map<String, Value>, client_token: Option<String>) -> Option<DeltaMessage> {
        let state: Map<String, Value> = patch
            .iter()
            .filter_map(|(key, update)| Some((key.clone(), project(self.delta.get(key)?, update)?)))
            .collect();
        if state.is_empty() {
            return None;
        }
        let metadata = state
            .iter()
            .filter_map(|(key, value)| Some((key.clone(), self.desired.metadata.get(key)?.project(value))))
            .collect();
        Some(DeltaMessage {
            state,
            metadata,
            version: self.version,
            timestamp: self.timestamp,
            client_token,
        })
    }

    fn record_commands(
        &mut self,
        desired: Option<&SectionUpdate>,
        written: Written,
        rules: &ShadowRules,
    ) -> Vec<Command> {
        let Some(SectionUpdate::Merge(patch)) = desired else {
            return Vec::new();
        };
        let mut recorded = Vec::new();
        for (path, field) in &rules.desired {
            if field.ordered && path_in(patch, path).is_some() {
                let value = path_in(&self.desired.members, path).cloned();
                recorded.push(self.commands.push(path.clone(), value, written.version, written.at));
            }
        }
        recorded
    }

    fn clear_acknowledged(&mut self, rules: &ShadowRules, touched: &mut Vec<Cow<'_, str>>) -> Vec<String> {
        let mut cleared = Vec::new();
        for (path, field) in &rules.desired {
            if !field.clear_on_ack {
                continue;
            }
            let acknowledged = match (
                path_in(&self.desired.members, path),
                path_in(&self.reported.members, path),
            ) {
                (Some(desired), Some(reported)) => json::values_equal(desired, reported),
                _ => false,
            };
            if acknowledged {
                self.remove_desired(path, touched);
                cleared.push(path.clone());
            }
        }
        cleared
    }

    fn expire_into(&mut self, now: Timestamp, rules: &ShadowRules, touched: &mut Vec<Cow<'_, str>>) -> Vec<String> {
        let mut expired = Vec::new();
        for (path, field) in &rules.desired {
            let Some(ttl) = field.ttl_secs else { continue };
            let written = Metadata::at_path(&self.desired.metadata, path).and_then(Metadata::newest);
            if written.is_some_and(|w| w.at.plus_secs(ttl) <= now) {
                self.remove_desired(path, touched);
                expired.push(path.clone());
            }
        }
        expired
    }

    /// Removes the desired value at `path`, pruning objects it leaves empty.
    fn remove_desired(&mut self, path: &str, touched: &mut Vec<Cow<'_, str>>) {
        let top = path.split('.').next().unwrap_or(path).to_owned();
        let patch = nest(path, Value::Null);
        let (Some(update), section) = (patch.get(&top), &self.desired) else {
            return;
        };
        let value = json::merged(section.members.get(&top).cloned(), update.clone());
        let written = section.metadata.get(&top).cloned();
        let metadata = written.and_then(|m| Metadata::merged(Some(m), update, placeholder()));
        self.desired.set_member(&top, value, metadata);
        if !touched.iter().any(|t| *t == top) {
            touched.push(Cow::Owned(top));
        }
    }
}

/// A document as the store writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DocumentRecord {
    desired: Map<String, Value>,
    reported: Map<String, Value>,
    desired_metadata: BTreeMap<String, StoredMetadata>,
    reported_metadata: BTreeMap<String, StoredMetadata>,
    version: u64,
    timestamp: Timestamp,
    conflicts: Vec<FieldConflict>,
    commands: CommandLog,
}

fn has_empty_object(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty() || map.values().any(has_empty_object),
        _ => false,
    }
}

/// A write time for merging a deletion: deletions write no leaf.
fn placeholder() -> Written {
    Written {
        at: Timestamp::default(),
        version: 0,
        stamp: VersionStamp::default(),
        origin: None,
    }
}

/// Bytes of `{"desired":{..},"reported":{..}}`, absent sections omitted.
fn state_len((desired_len, desired_count): (usize, usize), (reported_len, reported_count): (usize, usize)) -> usize {
    let desired = (desired_count > 0).then(|| r#""desired":"#.len() + Section::encoded_len(desired_len, desired_count));
    let reported =
        (reported_count > 0).then(|| r#""reported":"#.len() + Section::encoded_len(reported_len, reported_count));
    let comma = usize::from(desired.is_some() && reported.is_some());
    2 + desired.unwrap_or(0) + reported.unwrap_or(0) + comma
}

/// The value at a dotted `path`.
pub(crate) fn path_in<'a>(members: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = members.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// `{"a": {"b": value}}` for path `a.b`.
pub(crate) fn nest(path: &str, value: Value) -> Map<String, Value> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut inner = Map::new();
    inner.insert(last.to_owned(), value);
    for part in parts.into_iter().rev() {
        let mut outer = Map::new();
        outer.insert(part.to_owned(), Value::Object(inner));
        inner = outer;
    }
    inner
}

/// The part of `delta` that `update` wrote.
fn project(delta: &Value, update: &Value) -> Option<Value> {
    match (delta, update) {
        (Value::Object(delta), Value::Object(update)) => {
            let projected: Map<String, Value> = update
                .iter()
                .filter_map(|(key, update)| Some((key.clone(), project(delta.get(key)?, update)?)))
                .collect();
            (!projected.is_empty()).then_some(Value::Object(projected))
        }
        (delta, _) => Some(delta.clone()),
    }
}

/// Walks a replayed patch leaf by leaf and lets the field policies decide
/// each leaf the cloud also changed since `base`.
fn arbitrate(
    name: SectionName,
    patch: Map<String, Value>,
    cloud: &Section,
    replayed: Replayed,
    stamp: VersionStamp,
    rules: &ShadowRules,
    (conflicts, settled): (&mut Vec<FieldConflict>, &mut Vec<(SectionName, String)>),
) -> Map<String, Value> {
    let mut walk = Arbiter {
        name,
        replayed,
        stamp,
        rules,
        conflicts,
        settled,
    };
    walk.members(String::new(), patch, Some(&cloud.members), Some(&cloud.metadata))
}

struct Arbiter<'a> {
    name: SectionName,
    replayed: Replayed,
    stamp: VersionStamp,
    rules: &'a ShadowRules,
    conflicts: &'a mut Vec<FieldConflict>,
    /// Paths where the device's value takes effect.
    settled: &'a mut Vec<(SectionName, String)>,
}

impl Arbiter<'_> {
    fn members(
        &mut self,
        prefix: String,
        patch: Map<String, Value>,
        cloud: Option<&Map<String, Value>>,
        metadata: Option<&BTreeMap<String, Metadata>>,
    ) -> Map<String, Value> {
        let mut kept = Map::new();
        for (key, value) in patch {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let cloud_value = cloud.and_then(|c| c.get(&key));
            let cloud_meta = metadata.and_then(|m| m.get(&key));
            let decided = match (value, cloud_value) {
                (Value::Object(inner), None | Some(Value::Object(_))) => {
                    let inner_meta = match cloud_meta {
                        Some(Metadata::Object(members)) => Some(members),
                        _ => None,
                    };
                    let inner = self.members(path, inner, cloud_value.and_then(Value::as_object), inner_meta);
                    (!inner.is_empty()).then_some(Value::Object(inner))
                }
                (value, cloud_value) => {
                    let decided = self.leaf(&path, value, cloud_value, cloud_meta);
                    if decided.is_some() {
                        self.settled.push((self.name, path));
                    }
                    decided
                }
            };
            if let Some(value) = decided {
                kept.insert(key, value);
            }
        }
        kept
    }

    /// The value to write at `path`, or `None` to keep the cloud's.
    fn leaf(&mut self, path: &str, device: Value, cloud: Option<&Value>, metadata: Option<&Metadata>) -> Option<Value> {
        let policy = self.rules.policy(path);
        if let (FieldPolicy::MaxWins, Some(Value::Number(cloud)), Value::Number(new)) = (policy, cloud, &device) {
            let (cloud, new) = (cloud.as_f64(), new.as_f64());
            return (new >= cloud).then_some(device);
        }
        let written = metadata.and_then(Metadata::newest);
        // The device's own earlier entries of this replay are not the cloud's.
        let cloud_changed =
            written.is_some_and(|w| w.version > self.replayed.base_version && w.origin != Some(self.replayed.origin));
        if !cloud_changed || cloud.is_some_and(|c| json::values_equal(c, &device)) {
            return Some(device);
        }
        let cloud_stamp = written.map_or(VersionStamp::default(), |w| w.stamp);
        let device_wins = self.stamp > cloud_stamp;
        let decision = match policy {
            FieldPolicy::LastWriterWins | FieldPolicy::MaxWins => lww(device_wins),
            FieldPolicy::SafetyFirst { safe } => {
                if cloud.is_some_and(|c| json::values_equal(c, safe)) {
                    Decision::KeepCloud
                } else if json::values_equal(&device, safe) {
                    Decision::TakeDevice
                } else {
                    lww(device_wins)
                }
            }
            FieldPolicy::Manual => Decision::Conflict,
            FieldPolicy::Custom(policy) => {
                let device_side = Side {
                    value: (!device.is_null()).then_some(&device),
                    stamp: self.stamp,
                };
                policy.decide(
                    path,
                    Side {
                        value: cloud,
                        stamp: cloud_stamp,
                    },
                    device_side,
                )
            }
        };
        match decision {
            Decision::TakeDevice => Some(device),
            Decision::Replace(value) => Some(value),
            Decision::Conflict => {
                self.conflicts.push(FieldConflict {
                    section: self.name,
                    path: path.to_owned(),
                    cloud: cloud.cloned(),
                    device: (!device.is_null()).then_some(device),
                    device_stamp: self.stamp,
                });
                None
            }
            // A decision added later defaults to the safe choice.
            _ => None,
        }
    }
}

fn lww(device_wins: bool) -> Decision {
    if device_wins {
        Decision::TakeDevice
    } else {
        Decision::KeepCloud
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_cached_state_size_is_the_encoded_size() {
        let rules = ShadowRules::default();
        let mut shadow = ShadowDocument::new();
        let updates = [
            json!({"desired": {"valve": "closed", "tariff": [1, 2.5, "x"]}}),
            json!({"reported": {"valve": "open", "nested": {"a": {"b": "é\"q"}}}}),
            json!({"desired": {"valve": null}, "reported": {"nested": {"a": null}}}),
            json!({"desired": null}),
        ];
        for update in updates {
            let request = UpdateRequest::from_value(json!({ "state": update }), &rules.limits).unwrap();
            shadow.update(request, Timestamp::from_secs(1), &rules).unwrap();
            let mut state = Map::new();
            if !shadow.desired().is_empty() {
                state.insert("desired".into(), Value::Object(shadow.desired().clone()));
            }
            if !shadow.reported().is_empty() {
                state.insert("reported".into(), Value::Object(shadow.reported().clone()));
            }
            assert_eq!(shadow.state_len(), Value::Object(state).to_string().len());
        }
    }

    #[test]
    fn nest_builds_the_path() {
        assert_eq!(Value::Object(nest("a.b.c", json!(1))), json!({"a": {"b": {"c": 1}}}));
        assert_eq!(Value::Object(nest("a", json!(null))), json!({"a": null}));
        let _ = object(json!({}));
    }
}
