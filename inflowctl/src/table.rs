//! `--output table`: the JSON a command prints, laid out for people. A list (or the one list
//! inside an object, such as `keys` or `endpoints`) becomes rows under its fields' names; any
//! other object becomes `field  value` lines. JSON stays the default, for scripts.

use serde_json::{Map, Value};

/// `--output text`: one `path<TAB>value` line per value (`keys.0.id<TAB>key_…`), so a script can
/// grep and cut what it needs without a JSON parser. Strings are printed as they are.
pub fn text(value: &Value) -> String {
    let mut out = String::new();
    leaves(value, "", &mut out);
    out
}

fn leaves(value: &Value, path: &str, out: &mut String) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, &join(k), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, &join(&i.to_string()), out)),
        Value::String(s) => out.push_str(&format!("{path}\t{}\n", s.replace(['\t', '\n'], " "))),
        other => out.push_str(&format!("{path}\t{other}\n")),
    }
}

pub fn render(value: &Value) -> String {
    match value {
        Value::Array(rows) => rows_table(rows),
        Value::Object(map) => match single_list(map) {
            Some((name, rows)) => {
                let rest: Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| k.as_str() != name)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut out = pairs_table(&rest);
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&rows_table(rows));
                out
            }
            None => pairs_table(map),
        },
        other => format!("{}\n", cell(other)),
    }
}

/// The one field holding a list of objects, if there is exactly one.
fn single_list(map: &Map<String, Value>) -> Option<(&str, &[Value])> {
    let mut lists = map.iter().filter_map(|(k, v)| match v {
        Value::Array(rows) if rows.iter().all(Value::is_object) => Some((k.as_str(), &rows[..])),
        _ => None,
    });
    let first = lists.next()?;
    lists.next().is_none().then_some(first)
}

/// A value in one cell: strings bare, null empty, anything else as compact JSON; no line breaks.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn pairs_table(map: &Map<String, Value>) -> String {
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    map.iter()
        .map(|(k, v)| format!("{}\n", format!("{k:<width$}  {}", cell(v)).trim_end()))
        .collect()
}

fn rows_table(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    // `id` first, where a person looks for it; then the fields in the JSON's order.
    let mut columns: Vec<&str> = Vec::new();
    if rows.iter().any(|r| r.get("id").is_some()) {
        columns.push("id");
    }
    for row in rows {
        for key in row.as_object().into_iter().flat_map(Map::keys) {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    if columns.is_empty() {
        return rows.iter().map(|r| format!("{}\n", cell(r))).collect();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = line(columns.clone());
    out.push_str(&line(rule.iter().map(String::as_str).collect()));
    for row in &cells {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_a_path_and_a_value_per_line() {
        let out = text(&json!({
            "organization": "org_1",
            "keys": [{"id": "key_1", "revoked": false}, {"id": "a\tb", "n": 3, "x": null}],
        }));
        assert_eq!(
            out,
            "keys.0.id\tkey_1\nkeys.0.revoked\tfalse\nkeys.1.id\ta b\nkeys.1.n\t3\nkeys.1.x\tnull\norganization\torg_1\n"
        );
    }

    #[test]
    fn a_list_inside_an_object_becomes_rows_under_its_fields() {
        let out = render(&json!({
            "organization": "org_1",
            "keys": [
                {"id": "key_1", "kind": "admin", "revoked": false},
                {"id": "key_22", "kind": "user", "revoked": true, "revokedAt": "2026-01-01T00:00:00Z"},
            ]
        }));
        assert_eq!(
            out,
            "organization  org_1\n\n\
             id      kind   revoked  revokedAt\n\
             ------  -----  -------  --------------------\n\
             key_1   admin  false\n\
             key_22  user   true     2026-01-01T00:00:00Z\n"
        );
        // JSON objects come sorted by field; the id still leads.
        let out = render(&json!([{"a": 1, "id": "x"}]));
        assert!(out.starts_with("id  a\n"), "{out}");
    }

    #[test]
    fn an_object_becomes_field_value_lines() {
        let out = render(&json!({"id": "org_1", "email": null, "tier": "standard"}));
        assert_eq!(out, "email\nid     org_1\ntier   standard\n");
    }

    #[test]
    fn an_empty_list_says_none_and_cells_hold_no_line_breaks() {
        assert_eq!(render(&json!({"endpoints": []})), "(none)\n");
        let out = render(&json!([{"name": "a\nb"}]));
        assert_eq!(out, "name\n----\na b\n");
    }
}
