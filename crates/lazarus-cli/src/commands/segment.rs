//! `lazarus segment list|show|create|set|delete`: failover segments
//! (`/v1/segments`).

use clap::{ArgAction, Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::{is_not_found, listing, pick_by_name, record, seg, uuid_of, Context};
use crate::args::{push_opt, ListArgs};
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// Masakari's recovery methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RecoveryMethod {
    /// Evacuate to any host of the segment.
    Auto,
    /// Evacuate to the segment's reserved hosts.
    ReservedHost,
    /// `auto`, then `reserved_host` for what did not fit.
    AutoPriority,
    /// `reserved_host`, then `auto` for what did not fit.
    RhPriority,
}

impl RecoveryMethod {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryMethod::Auto => "auto",
            RecoveryMethod::ReservedHost => "reserved_host",
            RecoveryMethod::AutoPriority => "auto_priority",
            RecoveryMethod::RhPriority => "rh_priority",
        }
    }
}

/// The segment actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum SegmentAction {
    /// List segments.
    List(ListSegments),
    /// Show one segment (by uuid or name).
    Show(ShowSegment),
    /// Create a segment.
    Create(CreateSegment),
    /// Change a segment's fields.
    Set(SetSegment),
    /// Delete segments (by uuid or name).
    Delete(DeleteSegments),
}

/// `segment list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListSegments {
    /// Only segments with this recovery method.
    #[arg(long, value_enum)]
    pub recovery_method: Option<RecoveryMethod>,
    /// Only segments of this service type.
    #[arg(long)]
    pub service_type: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) segments.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub enabled: Option<bool>,
    /// Also show id, created_at and updated_at.
    #[arg(long)]
    pub long: bool,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `segment show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowSegment {
    /// Segment uuid or name.
    pub segment: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `segment create`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CreateSegment {
    /// The new segment's name (unique).
    pub name: String,
    /// How instances of a failed host are recovered.
    #[arg(long, value_enum, default_value_t = RecoveryMethod::Auto)]
    pub recovery_method: RecoveryMethod,
    /// The service the segment's hosts run.
    #[arg(long, default_value = "compute")]
    pub service_type: String,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// Create the segment disabled (its hosts' failures are not acted on).
    #[arg(long)]
    pub disabled: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `segment set`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetSegment {
    /// Segment uuid or name.
    pub segment: String,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// New recovery method.
    #[arg(long, value_enum)]
    pub recovery_method: Option<RecoveryMethod>,
    /// New service type.
    #[arg(long)]
    pub service_type: Option<String>,
    /// Enable the segment.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the segment.
    #[arg(long)]
    pub disable: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `segment delete`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DeleteSegments {
    /// Segment uuids or names.
    #[arg(required = true)]
    pub segments: Vec<String>,
}

/// The columns of `segment list` (and with `--long`).
const COLUMNS: &[&str] = &[
    "uuid",
    "name",
    "description",
    "service_type",
    "recovery_method",
    "enabled",
];
const LONG_COLUMNS: &[&str] = &[
    "id",
    "uuid",
    "name",
    "description",
    "service_type",
    "recovery_method",
    "enabled",
    "created_at",
    "updated_at",
];
/// The order of `segment show`'s fields.
const FIELDS: &[&str] = &[
    "uuid",
    "name",
    "description",
    "recovery_method",
    "service_type",
    "enabled",
    "id",
    "created_at",
    "updated_at",
];

impl SegmentAction {
    /// The output options, if the action prints records.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            SegmentAction::List(a) => Some(&a.output),
            SegmentAction::Show(a) => Some(&a.output),
            SegmentAction::Create(a) => Some(&a.output),
            SegmentAction::Set(a) => Some(&a.output),
            SegmentAction::Delete(_) => None,
        }
    }

    /// Runs the action.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            SegmentAction::List(a) => {
                let mut q = a.list.query();
                push_opt(
                    &mut q,
                    "recovery_method",
                    a.recovery_method.map(|m| m.as_str()),
                );
                push_opt(&mut q, "service_type", a.service_type.as_ref());
                push_opt(&mut q, "enabled", a.enabled);
                let items = ctx.client.get_key("/v1/segments", &q, "segments").await?;
                Ok(listing(&items, if a.long { LONG_COLUMNS } else { COLUMNS }))
            }
            SegmentAction::Show(a) => {
                let s = find(ctx, &a.segment).await?;
                Ok(record(&s, FIELDS, &[]))
            }
            SegmentAction::Create(a) => {
                let mut body = Map::new();
                body.insert("name".into(), json!(a.name));
                body.insert("recovery_method".into(), json!(a.recovery_method.as_str()));
                body.insert("service_type".into(), json!(a.service_type));
                if let Some(d) = &a.description {
                    body.insert("description".into(), json!(d));
                }
                if a.disabled {
                    body.insert("enabled".into(), json!(false));
                }
                let s = ctx
                    .client
                    .send_key(
                        Method::POST,
                        "/v1/segments",
                        &json!({ "segment": body }),
                        "segment",
                    )
                    .await?;
                Ok(record(&s, FIELDS, &[]))
            }
            SegmentAction::Set(a) => {
                let mut body = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        body.insert(k.to_owned(), v);
                    }
                };
                put("name", a.name.as_ref().map(|v| json!(v)));
                put("description", a.description.as_ref().map(|v| json!(v)));
                put(
                    "recovery_method",
                    a.recovery_method.map(|m| json!(m.as_str())),
                );
                put("service_type", a.service_type.as_ref().map(|v| json!(v)));
                if a.enable || a.disable {
                    put("enabled", Some(json!(a.enable)));
                }
                if body.is_empty() {
                    return Err(CliError::Usage(
                        "nothing to change: give at least one of --name, --description, \
                         --recovery-method, --service-type, --enable, --disable"
                            .to_owned(),
                    ));
                }
                let id = uuid_of(&find(ctx, &a.segment).await?)?;
                let s = ctx
                    .client
                    .send_key(
                        Method::PUT,
                        &format!("/v1/segments/{}", seg(&id)),
                        &json!({ "segment": body }),
                        "segment",
                    )
                    .await?;
                Ok(record(&s, FIELDS, &[]))
            }
            SegmentAction::Delete(a) => {
                for name in &a.segments {
                    let id = uuid_of(&find(ctx, name).await?)?;
                    ctx.client
                        .request(
                            Method::DELETE,
                            &format!("/v1/segments/{}", seg(&id)),
                            &[],
                            None,
                        )
                        .await?;
                }
                Ok(Output::Nothing)
            }
        }
    }
}

/// The segment with this uuid, or else the one with this name.
pub(crate) async fn find(ctx: &Context, segment: &str) -> Result<Value, CliError> {
    let path = format!("/v1/segments/{}", seg(segment));
    match ctx.client.get_key(&path, &[], "segment").await {
        Ok(s) => Ok(s),
        Err(e) if is_not_found(&e) => {
            let all = list_all(ctx).await?;
            pick_by_name("segment", segment, all, e)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every segment, page by page.
pub(crate) async fn list_all(ctx: &Context) -> Result<Vec<Value>, CliError> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let mut q = vec![
            ("limit".to_owned(), "1000".to_owned()),
            ("sort_key".to_owned(), "created_at".to_owned()),
            ("sort_dir".to_owned(), "asc".to_owned()),
        ];
        if let Some(last) = out.last() {
            q.push(("marker".to_owned(), uuid_of(last)?));
        }
        let page = ctx.client.get_key("/v1/segments", &q, "segments").await?;
        let page = match page {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let n = page.len();
        out.extend(page);
        if n < 1000 {
            return Ok(out);
        }
    }
}
