//! A strict reader of the Prometheus text format (0.0.4), for the tests: every sample's family
//! declared by `# TYPE` before it, names and label names well formed, label values properly
//! escaped, no sample twice, histograms with an `le` on every bucket, cumulative buckets and a
//! `+Inf` bucket equal to `_count`. Anything else is an error naming the line.

use std::collections::{BTreeMap, HashMap};

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Default)]
pub struct Scrape {
    /// Family name → type.
    pub types: HashMap<String, String>,
    pub help: HashMap<String, String>,
    pub samples: HashMap<(String, Labels), f64>,
}

fn metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("`{s}` is not a value")),
    }
}

/// `{a="x",b="y"}` → labels, and the rest of the line.
fn labels(s: &str) -> Result<(Labels, &str), String> {
    let mut out = Labels::new();
    let mut rest = s.strip_prefix('{').ok_or("labels must start with {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("a label without =")?;
        let name = &rest[..eq];
        if !label_name(name) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("a label value must be quoted")?;
        let mut v = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("an unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => v.push('\\'),
                    Some((_, '"')) => v.push('"'),
                    Some((_, 'n')) => v.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("a raw newline in a label value".into()),
                Some((_, c)) => v.push(c),
            }
        };
        if out.insert(name.to_owned(), v).is_some() {
            return Err(format!("label `{name}` twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The family a sample name belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        name.strip_suffix(suffix)
            .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
    })
}

pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut s = Scrape::default();
    if !text.ends_with('\n') {
        return Err("the text must end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            if !metric_name(name) || s.help.insert(name.into(), help.into()).is_some() {
                return Err(at("bad or repeated HELP".into()));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            if !metric_name(name) || !known.contains(&kind) {
                return Err(at("bad TYPE".into()));
            }
            if s.types.insert(name.into(), kind.into()).is_some() {
                return Err(at("TYPE repeated".into()));
            }
        } else if line.starts_with('#') {
            continue;
        } else {
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            if !metric_name(name) {
                return Err(at(format!("bad metric name `{name}`")));
            }
            let family = family_of(name, &s.types)
                .ok_or_else(|| at(format!("`{name}` has no TYPE before it")))?;
            let (labels, rest) = if line[name_end..].starts_with('{') {
                labels(&line[name_end..]).map_err(at)?
            } else {
                (Labels::new(), &line[name_end..])
            };
            let mut fields = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before the value".into()))?
                .split(' ');
            let v = value(fields.next().unwrap_or("")).map_err(at)?;
            if let Some(ts) = fields.next() {
                ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
            }
            if fields.next().is_some() {
                return Err(at("trailing fields".into()));
            }
            if name.ends_with("_bucket") && family != name && !labels.contains_key("le") {
                return Err(at("a bucket without le".into()));
            }
            if s.samples.insert((name.to_owned(), labels), v).is_some() {
                return Err(at("the same sample twice".into()));
            }
        }
    }
    check_histograms(&s)?;
    Ok(s)
}

fn check_histograms(s: &Scrape) -> Result<(), String> {
    for (family, _) in s.types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut series: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
        for ((name, labels), v) in &s.samples {
            if *name == bucket {
                let mut rest = labels.clone();
                let le = value(&rest.remove("le").unwrap_or_default())?;
                series.entry(rest).or_default().push((le, *v));
            }
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{labels:?}: buckets are not cumulative"));
            }
            let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
            let count = s.samples.get(&(format!("{family}_count"), labels.clone()));
            if inf.is_none() || inf != count.copied() {
                return Err(format!(
                    "{family}{labels:?}: +Inf bucket {inf:?} != count {count:?}"
                ));
            }
        }
    }
    Ok(())
}

impl Scrape {
    /// The sample `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// The sample, or 0 when the series does not exist yet (a counter never moved).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Every label value `name`'s samples carry under `label`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .samples
            .keys()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.get(label).cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[test]
fn the_reader_refuses_what_is_not_the_format() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\"} 1\n";
    assert_eq!(
        parse(ok).unwrap().get("a_total", &[("x", "q\"")]),
        Some(1.0)
    );
    for bad in [
        "a 1\n",                                                    // no TYPE
        "# TYPE a gauge\na 1",                                      // no final newline
        "# TYPE a gauge\na{x=\"1} 1\n",                             // unterminated
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",                   // label twice
        "# TYPE a gauge\na one\n",                                  // bad value
        "# TYPE a gauge\na 1\na 2\n",                               // sample twice
        "# TYPE h histogram\nh_bucket 1\n",                         // bucket without le
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n", // +Inf != count
        "# TYPE 1a gauge\n",                                        // bad name
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
