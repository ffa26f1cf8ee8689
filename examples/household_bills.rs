//! Bills a year of meter readings for a Beijing and a Shanghai household,
//! across Beijing's 2018-07-10 price rise, and prints the bills.
//!
//! Run with `cargo run --example household_bills`.

use std::error::Error;

use gasbao::core::{Date, Household, MeterPeriod, MeterReading, Money, PeriodBill, TariffSchedule, Volume, published};

/// A household, its tariff schedule and its meter readings for the year.
struct Account {
    name: &'static str,
    household: Household,
    schedule: TariffSchedule,
    /// `(date, meter index in m3)`, read every two months.
    readings: &'static [(&'static str, &'static str)],
}

fn main() -> Result<(), Box<dyn Error>> {
    let accounts = [
        Account {
            name: "Beijing, household of 6 (thresholds +150 m3)",
            household: Household::of(6),
            schedule: published::beijing_residential_2018(),
            readings: &[
                ("2018-01-01", "1204.310"),
                ("2018-03-01", "1391.870"),
                ("2018-05-01", "1482.150"),
                ("2018-07-01", "1530.600"),
                ("2018-09-01", "1581.020"),
                ("2018-11-01", "1652.400"),
                ("2019-01-01", "1851.950"),
            ],
        },
        Account {
            name: "Shanghai, household of 3",
            household: Household::of(3),
            schedule: published::shanghai_residential_from_2014_09_01(),
            readings: &[
                ("2018-01-01", "5630.000"),
                ("2018-03-01", "5745.500"),
                ("2018-05-01", "5827.250"),
                ("2018-07-01", "5880.000"),
                ("2018-09-01", "5925.750"),
                ("2018-11-01", "5990.125"),
                ("2019-01-01", "6121.400"),
            ],
        },
    ];
    for account in &accounts {
        bill_year(account)?;
    }
    Ok(())
}

fn bill_year(account: &Account) -> Result<(), Box<dyn Error>> {
    println!("== {} ==", account.name);
    let readings = account
        .readings
        .iter()
        .map(|&(date, index)| Ok(MeterReading::new(date.parse::<Date>()?, index.parse::<Volume>()?)))
        .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
    let mut cumulative = Volume::ZERO;
    let mut year_total = Money::ZERO;
    for pair in readings.windows(2) {
        let period = MeterPeriod::new(pair[0], pair[1])?;
        let bill = account.schedule.bill(&period, cumulative, &account.household)?;
        print_period(&period, &bill);
        cumulative = bill.cumulative_after();
        year_total = year_total.checked_add(bill.total()).ok_or("year total overflowed")?;
    }
    println!("   year: {cumulative} m3, {year_total} CNY\n");
    Ok(())
}

fn print_period(period: &MeterPeriod, bill: &PeriodBill) {
    println!(
        "{} .. {}  {:>9} m3  {:>9} CNY",
        period.start().date,
        period.end().date,
        period.consumption(),
        bill.total()
    );
    for segment in bill.segments() {
        if bill.segments().len() > 1 {
            println!(
                "   {} .. {} at the tariff of {}",
                segment.start, segment.end, segment.tariff_effective_from
            );
        }
        for line in segment.bill.lines() {
            println!(
                "     tier {}  {:>9} m3 x {:>5} = {:>9}",
                line.tier, line.volume, line.price, line.amount
            );
        }
    }
}
