//! A policy bundle as read: modules, data, manifest and sample inputs. Reading
//! checks only the shape of the files; [`PolicyEngine`](crate::PolicyEngine)
//! parses, compiles and tests.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::BundleError;
use crate::manifest::Manifest;

/// The manifest's file name inside a bundle directory, as in OPA bundles.
pub const MANIFEST_FILE: &str = ".manifest";
/// The data document's file name inside a bundle directory.
pub const DATA_FILE: &str = "data.json";

/// A set of Rego modules with their data and manifest.
///
/// # Examples
///
/// ```
/// use gasbao_policy::{Bundle, Manifest};
///
/// let bundle = Bundle::new(Manifest::new("r1", ["tariff/tier_one"]))
///     .with_module("tariff.rego", "package tariff\nimport rego.v1\ntier_one if input.low_income\n")
///     .with_data(serde_json::json!({}))?;
/// assert_eq!(bundle.manifest().revision, "r1");
/// # Ok::<(), gasbao_policy::BundleError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bundle {
    manifest: Manifest,
    modules: Vec<PolicyModule>,
    data: serde_json::Value,
    test_inputs: Vec<serde_json::Value>,
}

/// One `.rego` file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyModule {
    /// Path within the bundle, used in every error and coverage line.
    pub path: String,
    /// The Rego text.
    pub source: String,
}

impl Bundle {
    /// An in-memory bundle with no module, empty data and no test inputs.
    pub fn new(manifest: Manifest) -> Bundle {
        Bundle {
            manifest,
            modules: Vec::new(),
            data: serde_json::Value::Object(Default::default()),
            test_inputs: Vec::new(),
        }
    }

    /// Adds a module.
    #[must_use]
    pub fn with_module(mut self, path: impl Into<String>, source: impl Into<String>) -> Bundle {
        self.modules.push(PolicyModule {
            path: path.into(),
            source: source.into(),
        });
        self
    }

    /// Sets the data document.
    ///
    /// # Errors
    ///
    /// [`BundleError::DataNotObject`] unless `data` is a JSON object.
    pub fn with_data(mut self, data: serde_json::Value) -> Result<Bundle, BundleError> {
        if !data.is_object() {
            return Err(BundleError::DataNotObject {
                file: DATA_FILE.to_owned(),
            });
        }
        self.data = data;
        Ok(self)
    }

    /// Sets the sample inputs on which the fast path must agree with the
    /// interpreter.
    #[must_use]
    pub fn with_test_inputs(mut self, inputs: Vec<serde_json::Value>) -> Bundle {
        self.test_inputs = inputs;
        self
    }

    /// Reads a bundle directory: `.manifest`, every `*.rego` below the
    /// directory (sorted by path, so load order and errors are reproducible),
    /// `data.json` if present, and the manifest's test-input file.
    ///
    /// # Errors
    ///
    /// [`BundleError::Io`] naming the file that could not be read; the JSON
    /// variants naming the file that is malformed; [`BundleError::NoModules`]
    /// if there is no `.rego` file.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Bundle, BundleError> {
        let dir = dir.as_ref();
        let manifest_text = read(&dir.join(MANIFEST_FILE))?;
        let manifest: Manifest = serde_json::from_str(&manifest_text).map_err(|source| BundleError::Manifest {
            file: MANIFEST_FILE.to_owned(),
            source,
        })?;
        let mut bundle = Bundle::new(manifest);

        let mut rego_files = Vec::new();
        collect_rego_files(dir, &mut rego_files)?;
        rego_files.sort();
        for file in rego_files {
            let relative = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let source = read(&file)?;
            bundle = bundle.with_module(relative, source);
        }

        let data_path = dir.join(DATA_FILE);
        if data_path.exists() {
            bundle = bundle.with_data(read_json(&data_path, DATA_FILE)?)?;
        }
        if let Some(file) = bundle.manifest.test_inputs.clone() {
            match read_json(&dir.join(&file), &file)? {
                serde_json::Value::Array(inputs) => bundle.test_inputs = inputs,
                _ => return Err(BundleError::TestInputsNotArray { file }),
            }
        }
        bundle.check()?;
        Ok(bundle)
    }

    /// Checks what can be checked without the engine: a module, entrypoints
    /// that are rule paths.
    pub(crate) fn check(&self) -> Result<Vec<String>, BundleError> {
        if self.modules.is_empty() {
            return Err(BundleError::NoModules);
        }
        self.manifest.rule_paths()
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The modules, in load order.
    pub fn modules(&self) -> &[PolicyModule] {
        &self.modules
    }

    /// The data document.
    pub fn data(&self) -> &serde_json::Value {
        &self.data
    }

    /// The sample inputs for the fast-path agreement check.
    pub fn test_inputs(&self) -> &[serde_json::Value] {
        &self.test_inputs
    }
}

fn read(path: &Path) -> Result<String, BundleError> {
    fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_json(path: &Path, file: &str) -> Result<serde_json::Value, BundleError> {
    serde_json::from_str(&read(path)?).map_err(|source| BundleError::Json {
        file: file.to_owned(),
        source,
    })
}

fn collect_rego_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), BundleError> {
    let io = |source| BundleError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_rego_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rego") {
            found.push(path);
        }
    }
    Ok(())
}
