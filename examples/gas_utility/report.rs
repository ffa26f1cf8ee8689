//! The HTML report: the summary's numbers and four charts, SVG inline, in
//! one file that opens in any browser.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::Failure;
use crate::service::Summary;

const SIZE: (u32, u32) = (760, 300);

/// Writes the report for `summary` to `path`.
pub(crate) fn write(summary: &Summary, path: &Path) -> Result<(), Failure> {
    let mut html = String::new();
    writeln!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gas utility: one month</title>"
    )?;
    writeln!(
        html,
        "<style>body{{font-family:sans-serif;max-width:800px;margin:2em auto;color:#222}}"
    )?;
    writeln!(
        html,
        "td{{padding:2px 12px}} td:first-child{{color:#555}} h2{{margin-top:1.6em}}</style></head><body>"
    )?;
    writeln!(html, "<h1>A district's month of gas</h1>")?;
    writeln!(
        html,
        "<p>{} meters read hourly, billed, subsidised and charged against prepaid balances; the service \
         crashed half way through settlement and recovered from its journals.</p>",
        summary.meters
    )?;
    html.push_str(&numbers(summary));
    chart(
        &mut html,
        "Consumption by hour",
        "Gas drawn by the whole district each hour of the month, corrected to 20 °C and 101.325 kPa. The daily peaks are morning and evening cooking; business hours add a plateau.",
        consumption(summary),
    )?;
    chart(
        &mut html,
        "Business price by hour",
        "The pricing engine's quote for business customers at each hour: pipeline gas and LNG blended by supply, time-of-use multipliers, capped by the regulator's band. Business bills use these prices weighted by office-hour load.",
        prices(summary),
    )?;
    chart(
        &mut html,
        "Prepaid balances before and after",
        "Every account's balance in CNY, sorted, at the start of the month and after settlement. The gap is the month's gas; accounts whose subsidy covered the bill keep their balance.",
        balances(summary),
    )?;
    chart(
        &mut html,
        "Time per stage",
        "Wall time of each stage of this run, in seconds.",
        stages(summary),
    )?;
    writeln!(html, "</body></html>")?;
    std::fs::write(path, html).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

fn numbers(s: &Summary) -> String {
    let total = s.bills.iter().fold(gasbao::core::Money::ZERO, |sum, b| {
        sum.checked_add(b.amount).unwrap_or(sum)
    });
    let rows = [
        (
            "readings",
            format!(
                "{} ({} rejected), {:.0} per second",
                s.readings, s.rejected_readings, s.ingest_rate
            ),
        ),
        ("bills", format!("{} totalling {total} CNY", s.bills.len())),
        (
            "subsidies",
            format!("{} granted, {} CNY", s.subsidies.eligible, s.subsidies.granted),
        ),
        (
            "charges",
            format!(
                "{} confirmed, {} refused for want of money, {} covered by the subsidy",
                s.confirmed, s.cancelled_no_money, s.covered_by_subsidy
            ),
        ),
        (
            "crash",
            format!(
                "{} charges done before it, {} recovered after it",
                s.charged_before_crash, s.recovered_after_crash
            ),
        ),
        ("valves closed", format!("{:?}", s.valves_closed)),
        (
            "audit journal",
            format!(
                "{} records, {} SM2-signed checkpoints, verified",
                s.audit_records, s.audit_checkpoints
            ),
        ),
        (
            "conservation",
            if s.conserved() {
                "every balance, bill and subsidy adds up".to_owned()
            } else {
                s.conservation.join("; ")
            },
        ),
    ];
    let mut table = String::from("<table>");
    for (name, value) in rows {
        let _ = write!(table, "<tr><td>{name}</td><td>{}</td></tr>", escape(&value));
    }
    table.push_str("</table>");
    table
}

fn chart(html: &mut String, title: &str, caption: &str, svg: Result<String, Failure>) -> Result<(), Failure> {
    writeln!(html, "<h2>{title}</h2><p>{caption}</p>{}", svg?)?;
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0_f64, f64::max).max(1.0) * 1.1
}

fn consumption(s: &Summary) -> Result<String, Failure> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let hours = s.hourly_m3.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..hours / 24.0, 0.0..max_of(s.hourly_m3.iter().copied()))?;
        chart
            .configure_mesh()
            .x_desc("day of the month")
            .y_desc("m3 per hour")
            .draw()?;
        chart.draw_series(LineSeries::new(
            s.hourly_m3.iter().enumerate().map(|(h, m3)| (h as f64 / 24.0, *m3)),
            &BLUE,
        ))?;
        root.present()?;
    }
    Ok(svg)
}

fn prices(s: &Summary) -> Result<String, Failure> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let top = max_of(s.business_prices.iter().copied());
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..24.0, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("hour of the day")
            .y_desc("CNY per m3")
            .draw()?;
        let steps = s
            .business_prices
            .iter()
            .enumerate()
            .flat_map(|(h, p)| [(h as f64, *p), (h as f64 + 1.0, *p)]);
        chart.draw_series(LineSeries::new(steps, &RED))?;
        root.present()?;
    }
    Ok(svg)
}

fn balances(s: &Summary) -> Result<String, Failure> {
    let sorted = |fen: &[i64]| {
        let mut yuan: Vec<f64> = fen.iter().map(|f| *f as f64 / 100.0).collect();
        yuan.sort_by(f64::total_cmp);
        yuan
    };
    let (before, after) = (sorted(&s.balances_before), sorted(&s.balances_after));
    // Businesses hold far more than households: show the households' range.
    let households = before
        .len()
        .saturating_sub(s.bills.iter().filter(|b| b.commercial).count());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let top = max_of(before.iter().take(households).copied());
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..households.max(1) as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("households, sorted by balance")
            .y_desc("CNY")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                before.iter().take(households).enumerate().map(|(i, y)| (i as f64, *y)),
                &BLUE,
            ))?
            .label("before")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(
                after.iter().take(households).enumerate().map(|(i, y)| (i as f64, *y)),
                &GREEN,
            ))?
            .label("after")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn stages(s: &Summary) -> Result<String, Failure> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, 40 + 28 * s.stages.len() as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = max_of(s.stages.iter().map(|(_, took)| took.as_secs_f64()));
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..top, 0.0..s.stages.len() as f64)?;
        let names: Vec<&str> = s.stages.iter().map(|(name, _)| *name).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(names.len())
            .y_label_formatter(&|y| names.get(*y as usize).map_or(String::new(), |n| (*n).to_owned()))
            .x_desc("seconds")
            .draw()?;
        chart.draw_series(s.stages.iter().enumerate().map(|(i, (_, took))| {
            Rectangle::new(
                [(0.0, i as f64 + 0.15), (took.as_secs_f64(), i as f64 + 0.85)],
                BLUE.mix(0.6).filled(),
            )
        }))?;
        root.present()?;
    }
    Ok(svg)
}
