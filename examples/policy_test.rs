//! Runs a policy bundle's `test_` rules, like `opa test`, and prints one line
//! per test and the line coverage of each module.
//!
//! ```sh
//! cargo run --example policy_test -- gasbao-policy/bundles/subsidy
//! ```
//!
//! Then loads the bundle as a service would and says which engine it runs on
//! (the compiled fast path, or the interpreter and why).
//!
//! Exit status: 0 if every test passes and the bundle loads, 1 if a test
//! fails or the bundle is rejected, 2 on bad usage or a bundle that cannot be read.

use std::process::ExitCode;

use gasbao::policy::{Bundle, PreparedBundle, run_tests};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: policy_test <bundle-dir>");
        return ExitCode::from(2);
    };
    let bundle = match Bundle::from_dir(dir) {
        Ok(bundle) => bundle,
        Err(e) => {
            eprintln!("{dir}: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match run_tests(&bundle) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{dir}: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{report}");
    if report.failed() > 0 {
        return ExitCode::from(1);
    }
    match PreparedBundle::new(&bundle) {
        Ok(prepared) => {
            print!(
                "\nrevision {} loads: {} tests, ",
                prepared.revision(),
                prepared.tests_passed()
            );
            match prepared.fast_path_refusal() {
                None => println!("decisions on the {} path", prepared.execution_path()),
                Some(why) => println!("decisions on the {} path because {why}", prepared.execution_path()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{dir}: rejected: {e}");
            ExitCode::from(1)
        }
    }
}
