//! List queries in SQL: filters, Masakari's sort keys, and keyset paging after a marker.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

use super::db_err;
use crate::{ListQuery, SortDir, StoreError};

/// What the list helper needs to know about a table.
#[derive(Debug)]
pub(crate) struct Table {
    /// Table name.
    pub name: &'static str,
    /// What the row is called in errors.
    pub kind: &'static str,
    /// The column holding the record's UUID.
    pub uuid_column: &'static str,
    /// The select list `from_row` reads, in order.
    pub columns: &'static str,
    /// Sortable keys and the SQL expression each sorts by. Nullable columns sort by
    /// `COALESCE(col, '')` so that comparisons with a marker behave like the ordering.
    pub sort_keys: &'static [(&'static str, &'static str)],
}

/// One `AND`ed condition with its parameters.
#[derive(Debug)]
pub(crate) struct Cond {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Cond {
    /// `sql` with one parameter per `?`.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }

    /// `column = value`.
    pub fn eq(column: &str, value: impl Into<Value>) -> Self {
        Self::new(format!("{column} = ?"), vec![value.into()])
    }
}

/// The condition selecting a record by id: its UUID, or its numeric id if `id` is a number.
pub(crate) fn id_cond(table: &Table, id: &str) -> Cond {
    match id.parse::<i64>() {
        Ok(n) => Cond::eq("id", n),
        Err(_) => Cond::eq(table.uuid_column, id.to_owned()),
    }
}

/// Reads one live row selected by `conds`, or `NotFound` naming `id`.
pub(crate) fn get_one<T>(
    conn: &Connection,
    table: &Table,
    conds: Vec<Cond>,
    id: &str,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let (where_sql, params) = where_clause(conds);
    let sql = format!(
        "SELECT {} FROM {} WHERE deleted_at IS NULL{}",
        table.columns, table.name, where_sql
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let row = stmt
        .query_row(params_from_iter(params), |row| Ok(map(row)))
        .optional()
        .map_err(db_err)?;
    match row {
        Some(r) => r,
        None => Err(StoreError::not_found(table.kind, id)),
    }
}

/// Live rows matching `conds`, ordered and paged by `query`.
pub(crate) fn list<T>(
    conn: &Connection,
    table: &Table,
    mut conds: Vec<Cond>,
    query: &ListQuery,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    if query.limit == Some(0) {
        return Ok(Vec::new());
    }
    let keys = resolve_sort(table, query)?;
    if let Some(marker) = &query.marker {
        let values = marker_values(conn, table, marker, &keys)?;
        conds.push(after_marker(&keys, values));
    }
    let (where_sql, mut params) = where_clause(conds);
    let order: Vec<String> = keys
        .iter()
        .map(|(expr, dir)| format!("{expr} {}", dir.as_sql()))
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE deleted_at IS NULL{} ORDER BY {}",
        table.columns,
        table.name,
        where_sql,
        order.join(", ")
    );
    if let Some(limit) = query.limit {
        sql.push_str(" LIMIT ?");
        params.push(Value::Integer(i64::from(limit)));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params_from_iter(params), |row| Ok(map(row)))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(db_err)??);
    }
    Ok(out)
}

fn where_clause(conds: Vec<Cond>) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    for c in conds {
        sql.push_str(" AND (");
        sql.push_str(&c.sql);
        sql.push(')');
        params.extend(c.params);
    }
    (sql, params)
}

/// The sort keys as SQL expressions, with Masakari's defaults (`created_at`, `id`, in the
/// first key's direction or descending) appended when absent.
fn resolve_sort(
    table: &Table,
    query: &ListQuery,
) -> Result<Vec<(&'static str, SortDir)>, StoreError> {
    let default_dir = query.sort.first().map_or(SortDir::Desc, |(_, d)| *d);
    let mut keys: Vec<(&'static str, &'static str, SortDir)> = Vec::new();
    for (key, dir) in &query.sort {
        let Some((name, expr)) = table.sort_keys.iter().find(|(k, _)| k == key) else {
            return Err(StoreError::Invalid(format!(
                "Sort key supplied was not valid: {key}"
            )));
        };
        if !keys.iter().any(|(k, _, _)| k == name) {
            keys.push((name, expr, *dir));
        }
    }
    for default in ["created_at", "id"] {
        if !keys.iter().any(|(k, _, _)| *k == default) {
            let expr = table
                .sort_keys
                .iter()
                .find(|(k, _)| *k == default)
                .map_or(default, |(_, e)| e);
            keys.push((default, expr, default_dir));
        }
    }
    Ok(keys.into_iter().map(|(_, e, d)| (e, d)).collect())
}

/// The marker row's values of the sort expressions; `Invalid` if no live row matches.
fn marker_values(
    conn: &Connection,
    table: &Table,
    marker: &str,
    keys: &[(&'static str, SortDir)],
) -> Result<Vec<Value>, StoreError> {
    let exprs: Vec<&str> = keys.iter().map(|(e, _)| *e).collect();
    let cond = id_cond(table, marker);
    let sql = format!(
        "SELECT {} FROM {} WHERE deleted_at IS NULL AND {}",
        exprs.join(", "),
        table.name,
        cond.sql
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let n = exprs.len();
    let values = stmt
        .query_row(params_from_iter(cond.params), |row| {
            (0..n)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .optional()
        .map_err(db_err)?;
    values.ok_or_else(|| StoreError::Invalid(format!("Marker {marker} could not be found.")))
}

/// Rows strictly after the marker in the given order:
/// `(k1 > m1) OR (k1 = m1 AND k2 > m2) OR ...`, with `<` for descending keys.
fn after_marker(keys: &[(&'static str, SortDir)], marker: Vec<Value>) -> Cond {
    let mut alternatives = Vec::new();
    let mut params = Vec::new();
    for i in 0..keys.len() {
        let mut parts = Vec::new();
        for (j, (expr, _)) in keys.iter().enumerate().take(i) {
            parts.push(format!("{expr} = ?"));
            params.push(marker[j].clone());
        }
        let (expr, dir) = keys[i];
        let op = match dir {
            SortDir::Asc => ">",
            SortDir::Desc => "<",
        };
        parts.push(format!("{expr} {op} ?"));
        params.push(marker[i].clone());
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    Cond::new(alternatives.join(" OR "), params)
}
