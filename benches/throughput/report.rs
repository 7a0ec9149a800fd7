//! Figures, ratios and goals: recorded per repetition, summarised by their
//! median, printed as tables and written as JSON.

use serde_json::{json, Value};

use crate::config::Config;

struct Figure {
    workload: &'static str,
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
}

enum GoalKind {
    /// `numerator / denominator` per repetition, at least `min`
    /// (`None`: reported, no goal).
    Ratio {
        numerator: String,
        denominator: String,
        min: Option<f64>,
    },
    /// A figure whose median must stay at most `limit`.
    AtMost { figure: String, limit: f64 },
}

struct Goal {
    workload: &'static str,
    name: String,
    kind: GoalKind,
}

#[derive(Default)]
pub struct Report {
    figures: Vec<Figure>,
    goals: Vec<Goal>,
}

struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

fn summary(samples: &[f64]) -> Summary {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Summary {
            median: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Summary {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

impl Report {
    pub fn record(&mut self, workload: &'static str, name: &str, unit: &'static str, value: f64) {
        match self
            .figures
            .iter_mut()
            .find(|f| f.workload == workload && f.name == name)
        {
            Some(f) => f.samples.push(value),
            None => self.figures.push(Figure {
                workload,
                name: name.to_string(),
                unit,
                samples: vec![value],
            }),
        }
    }

    pub fn samples(&self, name: &str) -> &[f64] {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.samples.as_slice())
            .unwrap_or(&[])
    }

    pub fn ratio(
        &mut self,
        workload: &'static str,
        name: &str,
        num: &str,
        den: &str,
        min: Option<f64>,
    ) {
        self.goals.push(Goal {
            workload,
            name: name.to_string(),
            kind: GoalKind::Ratio {
                numerator: num.to_string(),
                denominator: den.to_string(),
                min,
            },
        });
    }

    pub fn at_most(&mut self, workload: &'static str, name: &str, figure: &str, limit: f64) {
        self.goals.push(Goal {
            workload,
            name: name.to_string(),
            kind: GoalKind::AtMost {
                figure: figure.to_string(),
                limit,
            },
        });
    }

    /// Prints the table of one workload's figures.
    pub fn print_workload(&self, workload: &str) {
        println!("\n== {workload}");
        println!(
            "    {:<46} {:>13} {:>13} {:>13}",
            "figure", "median", "min", "max"
        );
        for f in self.figures.iter().filter(|f| f.workload == workload) {
            let s = summary(&f.samples);
            println!(
                "    {:<46} {:>13} {:>13} {:>13}  {}",
                f.name,
                fmt(s.median),
                fmt(s.min),
                fmt(s.max),
                f.unit
            );
        }
    }

    /// Evaluates every goal: (summary of the per-repetition values, the
    /// threshold, met).
    fn evaluate(&self, goal: &Goal) -> (Summary, Option<f64>, Option<bool>) {
        match &goal.kind {
            GoalKind::Ratio {
                numerator,
                denominator,
                min,
            } => {
                let (n, d) = (self.samples(numerator), self.samples(denominator));
                let per_rep: Vec<f64> = n.iter().zip(d).map(|(a, b)| a / b).collect();
                let s = summary(&per_rep);
                let met = min.map(|m| s.median >= m);
                (s, *min, met)
            }
            GoalKind::AtMost { figure, limit } => {
                let s = summary(self.samples(figure));
                let met = Some(s.median <= *limit);
                (s, Some(*limit), met)
            }
        }
    }

    pub fn print_goals(&self) {
        println!("\nRatios and goals (median of per-repetition values):");
        println!(
            "  {:<64} {:>9} {:>9} {:>9} {:>10}  status",
            "", "median", "min", "max", "goal"
        );
        for goal in &self.goals {
            let (s, threshold, met) = self.evaluate(goal);
            let (goal_text, status) = match (&goal.kind, threshold, met) {
                (GoalKind::Ratio { .. }, Some(t), Some(m)) => {
                    (format!(">= {t}"), if m { "met" } else { "NOT MET" })
                }
                (GoalKind::AtMost { .. }, Some(t), Some(m)) => {
                    (format!("<= {}", fmt(t)), if m { "met" } else { "NOT MET" })
                }
                _ => ("-".to_string(), "info"),
            };
            println!(
                "  {:<64} {:>9} {:>9} {:>9} {:>10}  {}",
                format!("[{}] {}", goal.workload, goal.name),
                fmt(s.median),
                fmt(s.min),
                fmt(s.max),
                goal_text,
                status
            );
        }
    }

    pub fn to_json(&self, config: &Config, machine: &Value, elapsed: f64) -> Value {
        let figures: Vec<Value> = self
            .figures
            .iter()
            .map(|f| {
                let s = summary(&f.samples);
                json!({
                    "workload": f.workload,
                    "figure": f.name,
                    "unit": f.unit,
                    "median": s.median,
                    "min": s.min,
                    "max": s.max,
                    "samples": f.samples,
                })
            })
            .collect();
        let ratios: Vec<Value> = self
            .goals
            .iter()
            .map(|g| {
                let (s, threshold, met) = self.evaluate(g);
                let (kind, over) = match &g.kind {
                    GoalKind::Ratio {
                        numerator,
                        denominator,
                        ..
                    } => ("ratio_at_least", json!([numerator, denominator])),
                    GoalKind::AtMost { figure, .. } => ("at_most", json!([figure])),
                };
                json!({
                    "workload": g.workload,
                    "name": g.name,
                    "kind": kind,
                    "of": over,
                    "median": s.median,
                    "min": s.min,
                    "max": s.max,
                    "goal": threshold,
                    "met": met,
                })
            })
            .collect();
        json!({
            "mode": config.mode(),
            "repetitions": config.reps,
            "elapsed_seconds": elapsed,
            "machine": machine,
            "figures": figures,
            "ratios": ratios,
        })
    }
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_string()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
