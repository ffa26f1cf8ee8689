//! The inputs and the bare regorus VM that the policy benches share.

use gasbao::core::Volume;
use gasbao::policy::{Bundle, SUBSIDY_ENTRYPOINT, SubsidyApplication};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::vm::RegoVM;

pub(crate) const BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/gasbao-policy/bundles/subsidy");
pub(crate) const INPUTS: usize = 100_000;

/// 100,000 applications spread over every region, both sides of every
/// threshold, every flag, and usage histories of 0 to 12 months.
pub(crate) fn applications() -> Vec<SubsidyApplication> {
    const REGIONS: [&str; 7] = ["310101", "310104", "310115", "320102", "330106", "110101", "440305"];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift64*: reproducible without a dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..INPUTS)
        .map(|i| {
            let r = next();
            let mut a =
                SubsidyApplication::new(format!("HH-{i:06}"), REGIONS[(r % 7) as usize], 1 + (r >> 8) as u32 % 6);
            a.name = "Li Na".into();
            a.id_number = format!("3101151980{i:08}");
            a.registered_resident = (r >> 16) % 10 != 0;
            a.fraud_flag = (r >> 20) % 25 == 0;
            a.low_income_certified = (r >> 24) % 4 == 0;
            a.monthly_income_fen = (r >> 28) % 1_200_000;
            a.monthly_usage_m3 = (0..(r >> 48) % 13)
                .map(|m| Volume::from_whole_m3((r >> m) % 40))
                .collect();
            a
        })
        .collect()
}

/// The inputs as regorus values, converted as a regorus user would.
pub(crate) fn engine_values(applications: &[SubsidyApplication]) -> Vec<regorus::Value> {
    applications
        .iter()
        .map(|a| regorus::Value::from(serde_json::to_value(a).unwrap()))
        .collect()
}

/// regorus's interpreter and its VM loaded with the reference bundle, set
/// up as the regorus documentation shows, with no limits.
pub(crate) fn bare_engines(bundle: &Bundle) -> (regorus::Engine, RegoVM) {
    let mut interpreter = regorus::Engine::new();
    for module in bundle.modules() {
        interpreter
            .add_policy(module.path.clone(), module.source.clone())
            .unwrap();
    }
    interpreter
        .add_data(regorus::Value::from(bundle.data().clone()))
        .unwrap();
    let entry: regorus::Rc<str> = SUBSIDY_ENTRYPOINT.into();
    let policy = interpreter.compile_with_entrypoint(&entry).unwrap();
    let program = Compiler::compile_from_policy(&policy, &[SUBSIDY_ENTRYPOINT]).unwrap();
    let mut vm = RegoVM::new();
    vm.load_program(program);
    vm.set_data(interpreter.get_data()).unwrap();
    (interpreter, vm)
}
