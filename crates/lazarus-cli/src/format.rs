//! `-f/--format`, `-c/--column` and the other output options every listing or showing
//! command takes.

use clap::{Args, ValueEnum};

/// How a result is printed (`-f`), as in openstackclient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// A bordered table: one row per item for lists, `Field | Value` for one item.
    #[default]
    Table,
    /// JSON: an array of objects for lists, an object for one item.
    Json,
    /// YAML, shaped like the JSON output.
    Yaml,
    /// Bare values: one line per row (values separated by spaces) for lists, one line
    /// per field for one item. Handy in scripts: `-f value -c uuid`.
    Value,
}

/// The output options of a command that prints records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A column to include (repeatable); by default every column is shown.
    #[arg(short = 'c', long = "column", value_name = "COLUMN")]
    pub columns: Vec<String>,
    /// Print JSON on one line (with `-f json`).
    #[arg(long)]
    pub noindent: bool,
    /// Wrap the table to the terminal width (or `COLUMNS`) instead of letting it be
    /// as wide as its contents.
    #[arg(long)]
    pub fit_width: bool,
}
