//! Device commands: templates from `[[command]]`, typed parameters, requests in flight and
//! their results, and the bulk-send rate limit. Pure: publishing, the audit log and the
//! keyboard live at the edges (engine, output, app).

pub mod convention;
pub mod pacer;
pub mod params;
pub mod placeholders;
pub mod template;
pub mod tracker;

#[cfg(test)]
mod tests;

pub use pacer::Pacer;
pub use params::{ParamKind, ParamSpec, ParamValue};
pub use template::{CommandSet, CommandTemplate, FleetInfo, Prepared, Target};
pub use tracker::{Opening, Request, RequestId, RequestState, Tracker, Wait};

/// Splits `level=40 mode=eco` into pairs; a word without `=` is an error.
pub fn parse_args<'a>(
    words: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, String> {
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("`{w}` is not name=value"))
        })
        .collect()
}

/// A request id unique across fleetop instances: a random run prefix and a sequence.
pub fn tag_for(run: u32, seq: u64) -> String {
    format!("fo{}-{seq}", run_name(run))
}

fn run_name(run: u32) -> String {
    format!("{run:06x}")
}

/// The `src` of a Shelly RPC request with `tag`: one per fleetop run, since Shelly devices
/// answer on `<src>/rpc` and each run must hear its own answers. A preview's placeholder
/// tag shows `<run>`.
pub fn rpc_source(tag: &str) -> String {
    let run = tag
        .strip_prefix("fo")
        .and_then(|t| t.split_once('-'))
        .map_or("<run>", |(run, _)| run);
    format!("fleetop-{run}")
}

/// Where Shelly devices answer the RPC requests of run `run`.
pub fn rpc_inbox(run: u32) -> String {
    format!("fleetop-{}/rpc", run_name(run))
}
