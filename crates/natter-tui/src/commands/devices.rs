//! `natter devices [list]`, `devices revoke DEVICE`.

use std::io::Write;

use natter_client::Session;
use natter_client::protocol::accounts::Device;

use super::map_err;
use crate::error::CommandError;
use crate::{format, json};

/// `natter devices` / `devices list`: the account's logged-in devices. As
/// text: `#ID  name  last seen  current`, the current one marked.
pub async fn list(session: &Session, out: &mut dyn Write, json: bool) -> Result<(), CommandError> {
    let devices = session.devices().await.map_err(map_err(session))?;
    if json {
        return json::write_pretty(out, &devices.devices);
    }
    for device in &devices.devices {
        let current = if device.current { "\tcurrent" } else { "" };
        writeln!(
            out,
            "#{}\t{}\tlast seen {}{current}",
            device.id,
            format::safe_line(&device.name),
            format::clock(device.last_seen_at)
        )
        .map_err(CommandError::Output)?;
    }
    Ok(())
}

/// `natter devices revoke DEVICE`: logs out another device of the account,
/// named by its id (`#4` or `4`, from `natter devices`) or its exact name
/// (when one device has it). The current device is refused: that is
/// `natter logout`.
pub async fn revoke(session: &Session, wanted: &str) -> Result<Device, CommandError> {
    let wanted = wanted.trim();
    let devices = session.devices().await.map_err(map_err(session))?.devices;
    let by_id = wanted
        .strip_prefix('#')
        .unwrap_or(wanted)
        .parse::<i64>()
        .ok()
        .and_then(|id| devices.iter().find(|d| d.id.0 == id));
    let device = match by_id {
        Some(device) => device.clone(),
        None => {
            let named: Vec<_> = devices.iter().filter(|d| d.name == wanted).collect();
            match named.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(CommandError::NotFound {
                        what: "device",
                        name: wanted.to_owned(),
                    });
                }
                many => {
                    return Err(CommandError::Ambiguous {
                        name: wanted.to_owned(),
                        candidates: many
                            .iter()
                            .map(|d| format!("#{}", d.id))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
    };
    if device.current {
        return Err(CommandError::Usage(
            "that is this device: run `natter logout` instead".into(),
        ));
    }
    session
        .revoke_device(device.id)
        .await
        .map_err(map_err(session))?;
    Ok(device)
}
