//! `lazarus host list|show|create|set|delete --segment S`: the hosts of a failover
//! segment (`/v1/segments/{segment}/hosts`); and `lazarus host
//! confirm-fenced|recover|return NAME`, an operator's actions on a host through the
//! controller's native API ([`super::host_action`]).

use clap::{ArgAction, Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::host_action::HostActionArgs;
use super::{is_not_found, listing, pick_by_name, record, seg, segment, uuid_of, Context};
use crate::args::{push_opt, ListArgs};
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// The host actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum HostAction {
    /// List the hosts of a segment, or of every segment.
    List(ListHosts),
    /// Show one host (by uuid or name).
    Show(ShowHost),
    /// Add a host (a nova-compute service's host name) to a segment.
    Create(CreateHost),
    /// Change a host's fields.
    Set(SetHost),
    /// Remove hosts from a segment (by uuid or name).
    Delete(DeleteHosts),
    /// Confirm a host is off (fenced by hand), so that its recovery, waiting for a
    /// fence confirmation, goes on to evacuate it. Refused if no recovery waits.
    ConfirmFenced(HostActionArgs),
    /// Ask for a host to be recovered: fenced (or, for a manual host, waiting for
    /// confirm-fenced), then evacuated.
    Recover(HostActionArgs),
    /// Ask for a host to be returned to service (forced_down lifted, re-enabled), now
    /// or when its recovery finishes.
    Return(HostActionArgs),
}

/// The segment a host command works in.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SegmentArg {
    /// The segment (uuid or name).
    #[arg(long, short = 's')]
    pub segment: String,
}

/// The segment a host command looks in; every segment when not given (host names are
/// unique across segments).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AnySegmentArg {
    /// The segment (uuid or name); every segment when not given.
    #[arg(long, short = 's')]
    pub segment: Option<String>,
}

/// `host list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListHosts {
    #[command(flatten)]
    pub segment: AnySegmentArg,
    /// Only the host with this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only hosts of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub host_type: Option<String>,
    /// Only hosts with these control attributes.
    #[arg(long)]
    pub control_attributes: Option<String>,
    /// Only hosts on (`true`) or off (`false`) maintenance.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub on_maintenance: Option<bool>,
    /// Only reserved (`true`) or unreserved (`false`) hosts.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub reserved: Option<bool>,
    /// Also show id, created_at and updated_at.
    #[arg(long)]
    pub long: bool,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `host show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowHost {
    /// Host uuid or name.
    pub host: String,
    #[command(flatten)]
    pub segment: AnySegmentArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `host create`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CreateHost {
    /// The host's name: the `host` of its nova-compute service.
    pub name: String,
    #[command(flatten)]
    pub segment: SegmentArg,
    /// The host's type (free text in Masakari; letters and digits).
    #[arg(long = "type", value_name = "TYPE", default_value = "COMPUTE")]
    pub host_type: String,
    /// How the host is controlled (free text in Masakari).
    #[arg(long, default_value = "SSH")]
    pub control_attributes: String,
    /// Keep the host empty, as a target for `reserved_host` recoveries.
    #[arg(long)]
    pub reserved: bool,
    /// Put the host on maintenance (its failures are ignored).
    #[arg(long)]
    pub on_maintenance: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `host set`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetHost {
    /// Host uuid or name.
    pub host: String,
    #[command(flatten)]
    pub segment: AnySegmentArg,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New type.
    #[arg(long = "type", value_name = "TYPE")]
    pub host_type: Option<String>,
    /// New control attributes.
    #[arg(long)]
    pub control_attributes: Option<String>,
    /// Reserve (`true`) or release (`false`) the host.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub reserved: Option<bool>,
    /// Put the host on (`true`) or take it off (`false`) maintenance.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub on_maintenance: Option<bool>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `host delete`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DeleteHosts {
    /// Host uuids or names.
    #[arg(required = true)]
    pub hosts: Vec<String>,
    #[command(flatten)]
    pub segment: AnySegmentArg,
}

const COLUMNS: &[&str] = &[
    "uuid",
    "name",
    "type",
    "control_attributes",
    "reserved",
    "on_maintenance",
    "failover_segment_id",
];
const LONG_COLUMNS: &[&str] = &[
    "id",
    "uuid",
    "name",
    "type",
    "control_attributes",
    "reserved",
    "on_maintenance",
    "failover_segment_id",
    "created_at",
    "updated_at",
];
const FIELDS: &[&str] = &[
    "uuid",
    "name",
    "type",
    "control_attributes",
    "reserved",
    "on_maintenance",
    "failover_segment_id",
    "id",
    "created_at",
    "updated_at",
];
/// The embedded segment repeats what `segment show` says.
const HIDDEN: &[&str] = &["failover_segment"];

impl HostAction {
    /// The output options, if the action prints records.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            HostAction::List(a) => Some(&a.output),
            HostAction::Show(a) => Some(&a.output),
            HostAction::Create(a) => Some(&a.output),
            HostAction::Set(a) => Some(&a.output),
            HostAction::Delete(_) => None,
            HostAction::ConfirmFenced(a) | HostAction::Recover(a) | HostAction::Return(a) => {
                Some(&a.output)
            }
        }
    }

    /// Runs the action.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            HostAction::List(a) => {
                let mut q = a.list.query();
                push_opt(&mut q, "name", a.name.as_ref());
                push_opt(&mut q, "type", a.host_type.as_ref());
                push_opt(&mut q, "control_attributes", a.control_attributes.as_ref());
                push_opt(&mut q, "on_maintenance", a.on_maintenance);
                push_opt(&mut q, "reserved", a.reserved);
                let columns = if a.long { LONG_COLUMNS } else { COLUMNS };
                let sids = match &a.segment.segment {
                    Some(s) => vec![uuid_of(&segment::find(ctx, s).await?)?],
                    None => {
                        if a.list.limit.is_some() || a.list.marker.is_some() {
                            return Err(CliError::Usage(
                                "--limit and --marker page one segment's hosts: give --segment"
                                    .to_owned(),
                            ));
                        }
                        let all = segment::list_all(ctx).await?;
                        all.iter().map(uuid_of).collect::<Result<Vec<_>, _>>()?
                    }
                };
                let mut items = Vec::new();
                for sid in sids {
                    let path = format!("/v1/segments/{}/hosts", seg(&sid));
                    if let Value::Array(page) = ctx.client.get_key(&path, &q, "hosts").await? {
                        items.extend(page);
                    }
                }
                Ok(listing(&Value::Array(items), columns))
            }
            HostAction::Show(a) => {
                let (_, h) = locate(ctx, &a.segment, &a.host).await?;
                Ok(record(&h, FIELDS, HIDDEN))
            }
            HostAction::Create(a) => {
                let sid = segment_id(ctx, &a.segment).await?;
                let mut body = Map::new();
                body.insert("name".into(), json!(a.name));
                body.insert("type".into(), json!(a.host_type));
                body.insert("control_attributes".into(), json!(a.control_attributes));
                if a.reserved {
                    body.insert("reserved".into(), json!(true));
                }
                if a.on_maintenance {
                    body.insert("on_maintenance".into(), json!(true));
                }
                let path = format!("/v1/segments/{}/hosts", seg(&sid));
                let h = ctx
                    .client
                    .send_key(Method::POST, &path, &json!({ "host": body }), "host")
                    .await?;
                Ok(record(&h, FIELDS, HIDDEN))
            }
            HostAction::Set(a) => {
                let mut body = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        body.insert(k.to_owned(), v);
                    }
                };
                put("name", a.name.as_ref().map(|v| json!(v)));
                put("type", a.host_type.as_ref().map(|v| json!(v)));
                put(
                    "control_attributes",
                    a.control_attributes.as_ref().map(|v| json!(v)),
                );
                put("reserved", a.reserved.map(|v| json!(v)));
                put("on_maintenance", a.on_maintenance.map(|v| json!(v)));
                if body.is_empty() {
                    return Err(CliError::Usage(
                        "nothing to change: give at least one of --name, --type, \
                         --control-attributes, --reserved, --on-maintenance"
                            .to_owned(),
                    ));
                }
                let (sid, h) = locate(ctx, &a.segment, &a.host).await?;
                let hid = uuid_of(&h)?;
                let path = format!("/v1/segments/{}/hosts/{}", seg(&sid), seg(&hid));
                let h = ctx
                    .client
                    .send_key(Method::PUT, &path, &json!({ "host": body }), "host")
                    .await?;
                Ok(record(&h, FIELDS, HIDDEN))
            }
            HostAction::Delete(a) => {
                for host in &a.hosts {
                    let (sid, h) = locate(ctx, &a.segment, host).await?;
                    let hid = uuid_of(&h)?;
                    let path = format!("/v1/segments/{}/hosts/{}", seg(&sid), seg(&hid));
                    ctx.client.request(Method::DELETE, &path, &[], None).await?;
                }
                Ok(Output::Nothing)
            }
            HostAction::ConfirmFenced(a) => a.run(ctx, "confirm-fenced").await,
            HostAction::Recover(a) => a.run(ctx, "recover").await,
            HostAction::Return(a) => a.run(ctx, "return").await,
        }
    }
}

/// The uuid of the `--segment` (given by uuid or name).
async fn segment_id(ctx: &Context, arg: &SegmentArg) -> Result<String, CliError> {
    uuid_of(&segment::find(ctx, &arg.segment).await?)
}

/// The segment uuid and the record of `host` (uuid or name), in the given segment or
/// else in whichever segment has it.
async fn locate(
    ctx: &Context,
    segment: &AnySegmentArg,
    host: &str,
) -> Result<(String, Value), CliError> {
    if let Some(s) = &segment.segment {
        let sid = uuid_of(&segment::find(ctx, s).await?)?;
        let h = find(ctx, &sid, host).await?;
        return Ok((sid, h));
    }
    let sids = segment::list_all(ctx)
        .await?
        .iter()
        .map(uuid_of)
        .collect::<Result<Vec<_>, _>>()?;
    let mut found: Vec<(String, Value)> = Vec::new();
    for sid in &sids {
        match find(ctx, sid, host).await {
            Ok(h) => found.push((sid.clone(), h)),
            Err(CliError::Client(e)) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CliError::Lookup(format!(
            "no host {host:?} in any of the {} segments",
            sids.len()
        ))),
        n => Err(CliError::Lookup(format!(
            "{n} segments have a host {host:?}; give --segment"
        ))),
    }
}

/// The host of segment `sid` with this uuid, or else the one with this name.
async fn find(ctx: &Context, sid: &str, host: &str) -> Result<Value, CliError> {
    let path = format!("/v1/segments/{}/hosts/{}", seg(sid), seg(host));
    match ctx.client.get_key(&path, &[], "host").await {
        Ok(h) => Ok(h),
        Err(e) if is_not_found(&e) => {
            let list_path = format!("/v1/segments/{}/hosts", seg(sid));
            let q = vec![("name".to_owned(), host.to_owned())];
            let found = ctx.client.get_key(&list_path, &q, "hosts").await?;
            let found = match found {
                Value::Array(items) => items,
                _ => Vec::new(),
            };
            pick_by_name("host", host, found, e)
        }
        Err(e) => Err(e.into()),
    }
}
