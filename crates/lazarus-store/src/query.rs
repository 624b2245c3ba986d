//! Paging and sorting of list queries, as Masakari's API offers them.

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDir {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

impl SortDir {
    /// Parses Masakari's `asc` / `desc`.
    pub fn parse(s: &str) -> Option<SortDir> {
        match s {
            "asc" => Some(SortDir::Asc),
            "desc" => Some(SortDir::Desc),
            _ => None,
        }
    }

    /// The SQL keyword.
    pub fn as_sql(self) -> &'static str {
        match self {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        }
    }
}

/// How to page and order a list.
///
/// Rows are ordered by `sort` and then, as Masakari does, by `created_at` and `id` (in the
/// direction of the first sort key, or descending), so the order is total and a marker
/// always designates one position. `marker` is the uuid (or numeric id) of the last row of
/// the previous page; the list resumes after it. A marker that names no row is
/// [`StoreError::Invalid`](crate::StoreError::Invalid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// At most this many rows; `None` for all.
    pub limit: Option<u32>,
    /// Resume after this row.
    pub marker: Option<String>,
    /// Sort keys (column names) with their directions, most significant first.
    pub sort: Vec<(String, SortDir)>,
}

impl ListQuery {
    /// Everything, in the default order (newest first).
    pub fn all() -> Self {
        Self::default()
    }

    /// The first `limit` rows in the default order.
    pub fn limit(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            ..Self::default()
        }
    }

    /// This query, also sorted by `key` in `dir` (after the keys already given).
    pub fn sorted_by(mut self, key: &str, dir: SortDir) -> Self {
        self.sort.push((key.to_owned(), dir));
        self
    }

    /// This query, resuming after `marker`.
    pub fn after(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }
}
