//! What a command produces ([`Output`]) and how it is printed in each [`Format`].
//!
//! Commands build an [`Output`] from the API's JSON and never print; [`render`] turns it
//! into text. This split keeps the commands testable against a real API and the
//! formatting testable without one.

use comfy_table::{CellAlignment, ContentArrangement, Table};
use serde_json::Value;

use crate::error::CliError;
use crate::format::{Format, OutputArgs};

/// openstackclient's table look: `+---+` rules above and below the header and at the
/// end, `|` between columns, no rules between rows.
const OSC_STYLE: &str = "||--+-++|    ++++++";

/// Columns and rows of a listing. Each row has one value per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// Column names, as `-c` selects them.
    pub columns: Vec<String>,
    /// One value per column, in column order.
    pub rows: Vec<Vec<Value>>,
}

/// The fields of one record, in display order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `(field, value)` pairs; field names are what `-c` selects.
    pub fields: Vec<(String, Value)>,
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Many items (`list`).
    List(Listing),
    /// One item (`show`, `create`, `set`).
    Record(Record),
    /// Nothing to print (`delete`).
    Nothing,
}

impl Listing {
    /// A listing of `items` (JSON objects) showing `columns`; a key an item lacks shows
    /// as null.
    pub fn from_objects(columns: &[&str], items: &[Value]) -> Self {
        Self {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: items
                .iter()
                .map(|item| {
                    columns
                        .iter()
                        .map(|c| item.get(*c).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect(),
        }
    }
}

impl Record {
    /// Every field of a JSON object, in the order of `preferred` first (those present),
    /// then the rest in the object's order.
    pub fn from_object(item: &Value, preferred: &[&str]) -> Self {
        let mut fields = Vec::new();
        if let Some(map) = item.as_object() {
            for key in preferred {
                if let Some(v) = map.get(*key) {
                    fields.push(((*key).to_owned(), v.clone()));
                }
            }
            for (k, v) in map {
                if !preferred.contains(&k.as_str()) {
                    fields.push((k.clone(), v.clone()));
                }
            }
        }
        Self { fields }
    }
}

/// The positions of the `-c` columns among `available` (every column when none is
/// asked); an unknown name is a usage error that lists the known ones.
fn select(available: &[String], wanted: &[String]) -> Result<Vec<usize>, CliError> {
    if wanted.is_empty() {
        return Ok((0..available.len()).collect());
    }
    wanted
        .iter()
        .map(|w| {
            available.iter().position(|a| a == w).ok_or_else(|| {
                CliError::Usage(format!(
                    "no column named {w:?}; the columns are: {}",
                    available.join(", ")
                ))
            })
        })
        .collect()
}

/// How one value reads in a table cell or `-f value`: strings bare, null as `None` and
/// booleans as `True`/`False` (as openstackclient prints them), arrays one element per
/// line. A flat object reads `k=v, k=v` on one line (openstackclient's dict format); an
/// object holding objects reads one `path.to.key=value` line per leaf, so that a wide
/// nested document (Masakari's `recovery_workflow_details`) stays readable.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => {
            let nested = map
                .values()
                .any(|v| v.as_object().is_some_and(|o| !o.is_empty()));
            if nested {
                let mut lines = Vec::new();
                leaves("", v, &mut lines);
                lines.join("\n")
            } else {
                map.iter()
                    .map(|(k, v)| format!("{k}={}", scalar_text(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
    }
}

/// A value inside an object: scalars as in a cell, arrays and objects as compact JSON.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => v.to_string(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => cell_text(v),
    }
}

/// `path=value` for each leaf under `v` (an empty object is a leaf: `path={}`).
fn leaves(path: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&p, child, out);
            }
        }
        _ => out.push(format!("{path}={}", scalar_text(v))),
    }
}

/// One JSON value, pretty with four-space indentation (as openstackclient prints).
fn pretty(v: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    match serde::Serialize::serialize(v, &mut ser) {
        Ok(()) => String::from_utf8(buf).unwrap_or_else(|_| v.to_string()),
        Err(_) => v.to_string(),
    }
}

/// A JSON object with keys in the given order (serde_json's map would sort them),
/// compact, or pretty at nesting `depth`.
fn ordered_json(pairs: &[(&str, &Value)], pretty_at: Option<usize>) -> String {
    let Some(depth) = pretty_at else {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}: {}", Value::String((*k).to_owned()), v))
            .collect();
        return format!("{{{}}}", body.join(", "));
    };
    if pairs.is_empty() {
        return "{}".to_owned();
    }
    let outer = "    ".repeat(depth);
    let inner = "    ".repeat(depth + 1);
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let value = pretty(v).replace('\n', &format!("\n{inner}"));
            format!("{inner}{}: {value}", Value::String((*k).to_owned()))
        })
        .collect();
    format!("{{\n{}\n{outer}}}", body.join(",\n"))
}

/// A YAML mapping with keys in the given order.
fn ordered_yaml(pairs: &[(&str, &Value)]) -> serde_yaml_ng::Value {
    let mut map = serde_yaml_ng::Mapping::new();
    for (k, v) in pairs {
        let value = serde_yaml_ng::to_value(v).unwrap_or(serde_yaml_ng::Value::Null);
        map.insert(serde_yaml_ng::Value::String((*k).to_owned()), value);
    }
    serde_yaml_ng::Value::Mapping(map)
}

fn yaml_text(v: &serde_yaml_ng::Value) -> Result<String, CliError> {
    serde_yaml_ng::to_string(v).map_err(|e| CliError::Usage(format!("cannot print YAML: {e}")))
}

fn table(header: Vec<String>, rows: Vec<Vec<String>>, fit_width: bool) -> String {
    let mut t = Table::new();
    t.load_preset(OSC_STYLE);
    if fit_width {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(120);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(width);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    t.set_header(header);
    for row in rows {
        t.add_row(row);
    }
    for col in t.column_iter_mut() {
        col.set_cell_alignment(CellAlignment::Left);
    }
    t.to_string()
}

/// The `(column, value)` pairs of `row` at positions `idx`.
fn pick<'a>(idx: &[usize], names: &[&'a str], row: &'a [Value]) -> Vec<(&'a str, &'a Value)> {
    const NULL: &Value = &Value::Null;
    idx.iter()
        .zip(names)
        .map(|(&i, n)| (*n, row.get(i).unwrap_or(NULL)))
        .collect()
}

/// Renders a command's output as `args` asks. The text ends with a newline unless it is
/// empty.
pub fn render(output: &Output, args: &OutputArgs) -> Result<String, CliError> {
    let text = match output {
        Output::Nothing => return Ok(String::new()),
        Output::List(list) => {
            let idx = select(&list.columns, &args.columns)?;
            let names: Vec<&str> = idx.iter().map(|&i| list.columns[i].as_str()).collect();
            match args.format {
                Format::Table => table(
                    names.iter().map(|n| (*n).to_owned()).collect(),
                    list.rows
                        .iter()
                        .map(|r| {
                            pick(&idx, &names, r)
                                .iter()
                                .map(|(_, v)| cell_text(v))
                                .collect()
                        })
                        .collect(),
                    args.fit_width,
                ),
                Format::Value => list
                    .rows
                    .iter()
                    .map(|r| {
                        pick(&idx, &names, r)
                            .iter()
                            .map(|(_, v)| cell_text(v))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Format::Json => {
                    let pretty_at = (!args.noindent).then_some(1);
                    let objects: Vec<String> = list
                        .rows
                        .iter()
                        .map(|r| ordered_json(&pick(&idx, &names, r), pretty_at))
                        .collect();
                    if args.noindent || objects.is_empty() {
                        format!("[{}]", objects.join(", "))
                    } else {
                        format!("[\n    {}\n]", objects.join(",\n    "))
                    }
                }
                Format::Yaml => {
                    let seq = list
                        .rows
                        .iter()
                        .map(|r| ordered_yaml(&pick(&idx, &names, r)))
                        .collect::<Vec<_>>();
                    return yaml_text(&serde_yaml_ng::Value::Sequence(seq));
                }
            }
        }
        Output::Record(record) => {
            let names: Vec<String> = record.fields.iter().map(|(k, _)| k.clone()).collect();
            let idx = select(&names, &args.columns)?;
            let pairs: Vec<(&str, &Value)> = idx
                .iter()
                .map(|&i| (record.fields[i].0.as_str(), &record.fields[i].1))
                .collect();
            match args.format {
                Format::Table => table(
                    vec!["Field".to_owned(), "Value".to_owned()],
                    pairs
                        .iter()
                        .map(|(k, v)| vec![(*k).to_owned(), cell_text(v)])
                        .collect(),
                    args.fit_width,
                ),
                Format::Value => pairs
                    .iter()
                    .map(|(_, v)| cell_text(v))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Format::Json => ordered_json(&pairs, (!args.noindent).then_some(0)),
                Format::Yaml => return yaml_text(&ordered_yaml(&pairs)),
            }
        }
    };
    Ok(if text.is_empty() { text } else { text + "\n" })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(format: Format, columns: &[&str]) -> OutputArgs {
        OutputArgs {
            format,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            ..OutputArgs::default()
        }
    }

    fn segments() -> Output {
        Output::List(Listing::from_objects(
            &["uuid", "name", "enabled", "description"],
            &[
                json!({"uuid": "u1", "name": "rack-a", "enabled": true, "description": null}),
                json!({"uuid": "u2", "name": "rack-b", "enabled": false, "description": "spare"}),
            ],
        ))
    }

    fn one_segment() -> Output {
        Output::Record(Record::from_object(
            &json!({"name": "rack-a", "uuid": "u1", "enabled": true, "extra": {"k": "v"}}),
            &["uuid", "name"],
        ))
    }

    #[test]
    fn a_list_renders_as_a_bordered_table_with_a_header_row() {
        let text = render(&segments(), &args(Format::Table, &[])).unwrap();
        let expected = "\
+------+--------+---------+-------------+
| uuid | name   | enabled | description |
+------+--------+---------+-------------+
| u1   | rack-a | True    | None        |
| u2   | rack-b | False   | spare       |
+------+--------+---------+-------------+
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_record_renders_as_field_value_rows_preferred_fields_first() {
        let text = render(&one_segment(), &args(Format::Table, &[])).unwrap();
        let expected = "\
+---------+--------+
| Field   | Value  |
+---------+--------+
| uuid    | u1     |
| name    | rack-a |
| enabled | True   |
| extra   | k=v    |
+---------+--------+
";
        assert_eq!(text, expected);
    }

    #[test]
    fn selected_columns_appear_in_the_order_asked() {
        let text = render(&segments(), &args(Format::Value, &["name", "uuid"])).unwrap();
        assert_eq!(text, "rack-a u1\nrack-b u2\n");
        let text = render(&one_segment(), &args(Format::Value, &["uuid"])).unwrap();
        assert_eq!(text, "u1\n");
    }

    #[test]
    fn an_unknown_column_is_a_usage_error_naming_the_known_ones() {
        let e = render(&segments(), &args(Format::Table, &["nmae"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("uuid, name, enabled, description"),
            "{e}"
        );
    }

    #[test]
    fn json_output_keeps_column_order_and_types() {
        let text = render(&segments(), &args(Format::Json, &["name", "enabled"])).unwrap();
        assert!(text.find("\"name\"").unwrap() < text.find("\"enabled\"").unwrap());
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!([
                {"name": "rack-a", "enabled": true},
                {"name": "rack-b", "enabled": false}
            ])
        );
        let record = render(&one_segment(), &args(Format::Json, &[])).unwrap();
        let parsed: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(parsed["extra"], json!({"k": "v"}));
        assert!(record.starts_with("{\n    \"uuid\": \"u1\",\n"), "{record}");
    }

    #[test]
    fn noindent_json_is_one_line() {
        let mut a = args(Format::Json, &["uuid"]);
        a.noindent = true;
        let text = render(&segments(), &a).unwrap();
        assert_eq!(text, "[{\"uuid\": \"u1\"}, {\"uuid\": \"u2\"}]\n");
    }

    #[test]
    fn yaml_output_parses_back_to_the_same_data() {
        let text = render(&segments(), &args(Format::Yaml, &["uuid", "description"])).unwrap();
        let parsed: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!([
                {"uuid": "u1", "description": null},
                {"uuid": "u2", "description": "spare"}
            ])
        );
        assert!(text.find("uuid").unwrap() < text.find("description").unwrap());
    }

    #[test]
    fn empty_lists_render_as_an_empty_table_or_array() {
        let empty = Output::List(Listing::from_objects(&["uuid"], &[]));
        assert_eq!(render(&empty, &args(Format::Json, &[])).unwrap(), "[]\n");
        assert_eq!(render(&empty, &args(Format::Value, &[])).unwrap(), "");
        let table = render(&empty, &args(Format::Table, &[])).unwrap();
        assert!(table.contains("| uuid |"), "{table}");
        assert_eq!(
            render(&Output::Nothing, &args(Format::Table, &[])).unwrap(),
            ""
        );
    }

    #[test]
    fn flat_objects_take_one_line_and_nested_ones_a_line_per_leaf() {
        assert_eq!(
            cell_text(&json!({"event": "STOPPED", "host_status": "NORMAL", "n": null})),
            "event=STOPPED, host_status=NORMAL, n=None"
        );
        assert_eq!(
            cell_text(
                &json!({"outcome": "done", "given_up": {}, "recovered": {"vm-1": "c2", "vm-2": "c3"}, "tags": ["a"]})
            ),
            "given_up={}\noutcome=done\nrecovered.vm-1=c2\nrecovered.vm-2=c3\ntags=[\"a\"]"
        );
    }

    #[test]
    fn arrays_in_cells_take_one_line_per_element() {
        assert_eq!(cell_text(&json!(["a", 1, null])), "a\n1\nNone");
    }
}
