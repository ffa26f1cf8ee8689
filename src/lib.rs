//! gasbao: reusable primitives for gas trading and metering platforms.
//!
//! This crate only re-exports the member crates, one cargo feature each, so a
//! service can depend on `gasbao` and pick what it needs:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `core` (default) | [`core`] | `gasbao-core`: money, volume, tariffs, PTZ correction |
//! | `journal` | `core::journal` | `gasbao-core`'s crash-safe journal: CRC32C frames, SM3 hash chain, SM2-signed checkpoints |
//! | `pricing` (default) | [`pricing`] | `gasbao-pricing`: multi-source pricing, blending, audited quotes |
//! | `ringbuf` (default) | [`ringbuf`] | `gasbao-ringbuf`: lock-free ring buffers for meter data |
//! | `policy` | `policy` | `gasbao-policy`: Rego subsidy decisions on regorus, hot reload, decision logs (to the journal with `journal`) |
//! | `tcc` | `tcc` | `gasbao-tcc`: Try-Confirm-Cancel settlement with a barrier, crash recovery and parking |
//! | `shadow` | `shadow` | `gasbao-shadow`: AWS-compatible device shadows, offline queue, per-field sync |
//! | `full` | | all of the above |
//! | `postgres` | | the PostgreSQL backends of `tcc` and `shadow` (tokio, tokio-postgres, deadpool) |
//! | `tracing` | | spans and events from every selected crate, through the `tracing` facade (journal recovery and group commits, bundle and configuration reloads, settlement, replays) |
//!
//! The defaults are the light crates: `policy` brings the regorus engine,
//! `journal`, `tcc` and `shadow` the SM2/SM3 crypto, `postgres` tokio.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

#[cfg(feature = "core")]
#[cfg_attr(docsrs, doc(cfg(feature = "core")))]
#[doc(inline)]
pub use gasbao_core as core;

#[cfg(feature = "pricing")]
#[cfg_attr(docsrs, doc(cfg(feature = "pricing")))]
#[doc(inline)]
pub use gasbao_pricing as pricing;

#[cfg(feature = "policy")]
#[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
#[doc(inline)]
pub use gasbao_policy as policy;

#[cfg(feature = "ringbuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "ringbuf")))]
#[doc(inline)]
pub use gasbao_ringbuf as ringbuf;

#[cfg(feature = "tcc")]
#[cfg_attr(docsrs, doc(cfg(feature = "tcc")))]
#[doc(inline)]
pub use gasbao_tcc as tcc;

#[cfg(feature = "shadow")]
#[cfg_attr(docsrs, doc(cfg(feature = "shadow")))]
#[doc(inline)]
pub use gasbao_shadow as shadow;
