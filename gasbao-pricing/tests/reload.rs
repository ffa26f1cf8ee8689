//! Hot reload under load: every quote is entirely one revision's answer.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::one_source_document;
use gasbao_pricing::{ConfigError, CustomerClass, LocalTime, Pricer, PricingSetup, QuoteRequest, StrategyCatalog};

#[test]
fn quotes_never_mix_revisions_while_reloading() {
    let catalog = StrategyCatalog::builtin();
    let revisions = [("r-even", "2.10"), ("r-odd", "2.20")];
    let documents = revisions.map(|(revision, price)| one_source_document(revision, price));
    let pricer = Arc::new(Pricer::new(PricingSetup::from_toml(&documents[0], &catalog).unwrap()));
    let stop = Arc::new(AtomicBool::new(false));
    let reloads = if cfg!(miri) { 10 } else { 1_000 };

    let quoters: Vec<_> = (0..2)
        .map(|_| {
            let (pricer, stop) = (Arc::clone(&pricer), Arc::clone(&stop));
            thread::spawn(move || {
                let request = QuoteRequest::new(LocalTime::MIDNIGHT, CustomerClass::Residential);
                let mut seen = [0u32; 2];
                while !stop.load(Ordering::Relaxed) {
                    let quote = pricer.quote(&request).unwrap();
                    let index = revisions.iter().position(|(r, _)| *r == &*quote.revision).unwrap();
                    assert_eq!(quote.price, revisions[index].1.parse().unwrap(), "{}", quote.revision);
                    seen[index] += 1;
                }
                seen
            })
        })
        .collect();
    for i in 0..reloads {
        pricer.reload_toml(&documents[(i + 1) % 2], &catalog).unwrap();
        // Every tenth reload is a bad document, which must change nothing.
        if i % 10 == 0 {
            let before = pricer.setup().revision().to_owned();
            let refused = pricer
                .reload_toml(&one_source_document("r-bad", "-1"), &catalog)
                .unwrap_err();
            assert!(
                matches!(&refused, ConfigError::InvalidParams { source_id, path, .. } if source_id == "well" && path == "price"),
                "{refused:?}"
            );
            assert_eq!(pricer.setup().revision(), before);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let quotes: u32 = quoters.into_iter().map(|t| t.join().unwrap().iter().sum::<u32>()).sum();
    assert!(quotes > 0);
}
