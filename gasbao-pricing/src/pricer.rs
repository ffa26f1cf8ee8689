//! The pricing engine a service shares between threads, with hot reload.

use std::sync::{Arc, PoisonError, RwLock};

use crate::catalog::StrategyCatalog;
use crate::error::{ConfigError, QuoteError};
use crate::quote::Quote;
use crate::request::QuoteRequest;
use crate::setup::PricingSetup;

/// Quotes under the current [`PricingSetup`], which can be swapped at any time.
///
/// A quote takes the current setup at its start and finishes on it, even if a
/// reload happens meanwhile; a reload that fails validation leaves the
/// current setup in place. `Pricer` is `Send + Sync`; share it in an `Arc`.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::{Pricer, PricingSetup, StrategyCatalog};
///
/// let catalog = StrategyCatalog::builtin();
/// let config = |revision: &str, price: &str| format!(r#"
///     revision = "{revision}"
///     weighting = "configured"
///     [[sources]]
///     id = "well"
///     kind = "fixed"
///     weight = "1"
///     params = {{ price = "{price}" }}
///     [band]
///     residential_cap = "3.00"
/// "#);
/// let pricer = Pricer::new(PricingSetup::from_toml(&config("r1", "2.10"), &catalog)?);
/// pricer.reload_toml(&config("r2", "2.20"), &catalog)?;
/// assert_eq!(pricer.setup().revision(), "r2");
/// // A bad document is refused and r2 stays.
/// assert!(pricer.reload_toml(&config("r3", "-1"), &catalog).is_err());
/// assert_eq!(pricer.setup().revision(), "r2");
/// # Ok::<(), gasbao_pricing::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Pricer {
    current: RwLock<Arc<PricingSetup>>,
}

impl Pricer {
    /// A pricer starting with `setup`.
    #[must_use]
    pub fn new(setup: PricingSetup) -> Pricer {
        Pricer {
            current: RwLock::new(Arc::new(setup)),
        }
    }

    /// The setup quotes use now.
    #[must_use]
    pub fn setup(&self) -> Arc<PricingSetup> {
        // The lock guards one Arc swap; a panic elsewhere cannot leave it half-written.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `setup` current and returns the previous one.
    pub fn replace(&self, setup: PricingSetup) -> Arc<PricingSetup> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let previous = std::mem::replace(&mut *current, Arc::new(setup));
        #[cfg(feature = "tracing")]
        tracing::info!(revision = ?current.revision(), replacing = ?previous.revision(), "pricing setup replaced");
        previous
    }

    /// Validates a TOML configuration document and, if it is valid, makes it
    /// current; returns the previous setup.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] that refused the document; the current setup stays.
    pub fn reload_toml(&self, document: &str, catalog: &StrategyCatalog) -> Result<Arc<PricingSetup>, ConfigError> {
        let setup = match PricingSetup::from_toml(document, catalog) {
            Ok(setup) => setup,
            Err(error) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, "pricing reload refused a configuration; the current one stays");
                return Err(error);
            }
        };
        Ok(self.replace(setup))
    }

    /// A quote for `request` under the current setup.
    ///
    /// # Errors
    ///
    /// [`QuoteError`] naming the source or field at fault.
    pub fn quote(&self, request: &QuoteRequest) -> Result<Quote, QuoteError> {
        self.setup().quote(request)
    }
}
