//! The service's configuration: a TOML file, then command-line overrides.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Failure;

/// Everything the run is shaped by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) district: District,
    pub(crate) ingest: Ingest,
    pub(crate) devices: Devices,
    pub(crate) prepaid: Prepaid,
    pub(crate) settlement: Settlement,
    pub(crate) files: Files,
    /// Where journals live; a fresh temporary directory unless given.
    #[serde(skip)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Where to write the HTML report, if anywhere.
    #[serde(skip)]
    pub(crate) report: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct District {
    pub(crate) households: u32,
    pub(crate) commercial: u32,
    pub(crate) year: i32,
    pub(crate) month: u8,
    pub(crate) days: u8,
    pub(crate) seed: u64,
    pub(crate) regions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ingest {
    pub(crate) producers: u32,
    pub(crate) ring_slots: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Devices {
    pub(crate) offline_meters: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prepaid {
    pub(crate) opening_fen_min: i64,
    pub(crate) opening_fen_max: i64,
    pub(crate) quota_m3: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settlement {
    pub(crate) drop_one_in: u64,
    pub(crate) crash_after_share: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Files {
    pub(crate) pricing: PathBuf,
    pub(crate) subsidy_bundle: PathBuf,
}

/// The workspace root, which the configuration's paths are relative to.
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl Config {
    /// The configuration file beside this example, with `args` applied:
    /// `--meters N`, `--days N`, `--seed N`, `--data-dir DIR`, `--report PATH`,
    /// `--config FILE`.
    pub(crate) fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, Failure> {
        let mut args = args.into_iter();
        let mut overrides = Vec::new();
        let mut path = root().join("examples/gas_utility/gas_utility.toml");
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--config" => path = PathBuf::from(value),
                "--meters" | "--days" | "--seed" | "--data-dir" | "--report" => overrides.push((flag, value)),
                _ => return Err(format!("unknown option {flag}; see the example's doc comment").into()),
            }
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (flag, value) in overrides {
            let number = || value.parse::<u64>().map_err(|e| format!("{flag} {value}: {e}"));
            match flag.as_str() {
                "--meters" => config.district.households = u32::try_from(number()?)?,
                "--days" => config.district.days = u8::try_from(number()?)?,
                "--seed" => config.district.seed = number()?,
                "--data-dir" => config.data_dir = Some(PathBuf::from(&value)),
                _ => config.report = Some(PathBuf::from(&value)),
            }
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), Failure> {
        let d = &self.district;
        if d.households < 8 || d.regions.is_empty() {
            return Err("the district needs at least 8 households and one region".into());
        }
        if d.days == 0 {
            return Err("days must be at least 1".into());
        }
        if gasbao::core::Date::new(d.year, d.month, d.days).is_err() {
            return Err(format!("{}-{:02} has no day {}", d.year, d.month, d.days).into());
        }
        if self.prepaid.opening_fen_min <= 0 || self.prepaid.opening_fen_max < self.prepaid.opening_fen_min {
            return Err("prepaid opening balances must be positive, min <= max".into());
        }
        if self.ingest.producers == 0 || self.settlement.drop_one_in < 2 {
            return Err("at least one producer, and drop_one_in of 2 or more".into());
        }
        if !(0.0..=1.0).contains(&self.settlement.crash_after_share) {
            return Err("crash_after_share is a share, from 0 to 1".into());
        }
        Ok(())
    }

    /// A configuration path, resolved against the workspace root.
    pub(crate) fn file(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            root().join(path)
        }
    }
}
