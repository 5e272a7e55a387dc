//! The bytes of a bus message on Redis: small, versioned, and opaque about the
//! frame.
//!
//! Version 1, all integers big-endian:
//! ```text
//! u8 version = 1 | u64 origin node | u8 kind | body
//! kind 1, deliver to users:   u8 has_except [i64 except] | u32 n | n × i64 user | frame…
//! kind 2, deliver to devices: u8 has_except [i64 except] | u32 n | n × (i64 user, i64 device) | frame…
//! kind 3, disconnect:         i64 user | u32 n | n × i64 device
//! ```
//! The frame runs to the end of the payload, so it is never copied into a
//! length-prefixed field. A node that reads a version it does not know drops
//! the message (and logs it) rather than guessing: during a rolling upgrade the
//! new version is only published once every node reads it.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use natter_protocol::{DeviceId, UserId};

use crate::{Audience, BusError, BusMessage, NodeId};

const VERSION: u8 = 1;
const DELIVER_USERS: u8 = 1;
const DELIVER_DEVICES: u8 = 2;
const DISCONNECT: u8 = 3;

/// Why a payload from Redis is not a message this node understands.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unknown bus encoding version {0}")]
    Version(u8),
    #[error("unknown bus message kind {0}")]
    Kind(u8),
    #[error("truncated bus message")]
    Truncated,
    #[error("{0} unexpected bytes after a bus message")]
    Trailing(usize),
}

pub(crate) fn encode(origin: NodeId, message: &BusMessage) -> Result<Bytes, BusError> {
    let too_large = |_| BusError::Unavailable("bus message has too many recipients".into());
    let mut out = BytesMut::new();
    out.put_u8(VERSION);
    out.put_u64(origin.0);
    match message {
        BusMessage::Deliver { to, except, frame } => {
            let (kind, n, ids) = match to {
                Audience::Users(users) => (DELIVER_USERS, users.len(), users.len()),
                Audience::Devices(devices) => (DELIVER_DEVICES, devices.len(), devices.len() * 2),
            };
            out.reserve(1 + 1 + 8 + 4 + ids * 8 + frame.len());
            out.put_u8(kind);
            match except {
                Some(device) => {
                    out.put_u8(1);
                    out.put_i64(device.0);
                }
                None => out.put_u8(0),
            }
            out.put_u32(u32::try_from(n).map_err(too_large)?);
            match to {
                Audience::Users(users) => users.iter().for_each(|u| out.put_i64(u.0)),
                Audience::Devices(devices) => devices.iter().for_each(|(u, d)| {
                    out.put_i64(u.0);
                    out.put_i64(d.0);
                }),
            }
            out.put_slice(frame);
        }
        BusMessage::Disconnect { user, devices } => {
            out.reserve(1 + 8 + 4 + devices.len() * 8);
            out.put_u8(DISCONNECT);
            out.put_i64(user.0);
            out.put_u32(u32::try_from(devices.len()).map_err(too_large)?);
            devices.iter().for_each(|d| out.put_i64(d.0));
        }
    }
    Ok(out.freeze())
}

pub(crate) fn decode(payload: &[u8]) -> Result<(NodeId, BusMessage), DecodeError> {
    let mut r = Reader(payload);
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let origin = NodeId(r.u64()?);
    let message = match r.u8()? {
        kind @ (DELIVER_USERS | DELIVER_DEVICES) => {
            let except = match r.u8()? {
                0 => None,
                _ => Some(DeviceId(r.i64()?)),
            };
            let n = r.count(if kind == DELIVER_USERS { 8 } else { 16 })?;
            let to = if kind == DELIVER_USERS {
                let users: Result<Vec<_>, _> = (0..n).map(|_| r.i64().map(UserId)).collect();
                Audience::Users(users?.into())
            } else {
                let devices: Result<Vec<_>, _> = (0..n)
                    .map(|_| Ok((UserId(r.i64()?), DeviceId(r.i64()?))))
                    .collect();
                Audience::Devices(devices?.into())
            };
            BusMessage::Deliver {
                to,
                except,
                frame: Bytes::copy_from_slice(r.0),
            }
        }
        DISCONNECT => {
            let user = UserId(r.i64()?);
            let n = r.count(8)?;
            let devices: Result<Vec<_>, _> = (0..n).map(|_| r.i64().map(DeviceId)).collect();
            if !r.0.is_empty() {
                return Err(DecodeError::Trailing(r.0.len()));
            }
            BusMessage::Disconnect {
                user,
                devices: Arc::from(devices?),
            }
        }
        kind => return Err(DecodeError::Kind(kind)),
    };
    Ok((origin, message))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.take().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.take().map(i64::from_be_bytes)
    }

    /// A count of `item`-byte entries, checked against what is left so that a
    /// corrupt count cannot make us allocate gigabytes.
    fn count(&mut self, item: usize) -> Result<usize, DecodeError> {
        let n = self.take().map(u32::from_be_bytes)? as usize;
        if n.saturating_mul(item) > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(message: BusMessage) {
        let node = NodeId(0x0102_0304_0506_0708);
        let bytes = encode(node, &message).expect("encodes");
        assert_eq!(decode(&bytes), Ok((node, message)));
    }

    #[test]
    fn every_kind_round_trips() {
        check(BusMessage::Deliver {
            to: Audience::Users(Arc::from(vec![UserId(1), UserId(-2), UserId(i64::MAX)])),
            except: Some(DeviceId(7)),
            frame: Bytes::from_static(b"{\"type\":\"event\"}"),
        });
        check(BusMessage::Deliver {
            to: Audience::Devices(Arc::from(vec![(UserId(1), DeviceId(2))])),
            except: None,
            frame: Bytes::new(),
        });
        check(BusMessage::Deliver {
            to: Audience::Users(Arc::from(Vec::new())),
            except: None,
            frame: Bytes::from_static(&[0, 255, 1]),
        });
        check(BusMessage::Disconnect {
            user: UserId(3),
            devices: Arc::from(vec![DeviceId(4), DeviceId(5)]),
        });
    }

    #[test]
    fn pins_the_version_1_layout() {
        let bytes = encode(
            NodeId(1),
            &BusMessage::Disconnect {
                user: UserId(2),
                devices: Arc::from(vec![DeviceId(3)]),
            },
        )
        .expect("encodes");
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 2];
        expected.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let good = encode(
            NodeId(1),
            &BusMessage::Disconnect {
                user: UserId(2),
                devices: Arc::from(vec![DeviceId(3)]),
            },
        )
        .expect("encodes");
        let mut other_version = good.to_vec();
        other_version[0] = 2;
        assert_eq!(decode(&other_version), Err(DecodeError::Version(2)));
        let mut other_kind = good.to_vec();
        other_kind[9] = 9;
        assert_eq!(decode(&other_kind), Err(DecodeError::Kind(9)));
        for cut in 0..good.len() {
            assert_eq!(
                decode(&good[..cut]),
                Err(DecodeError::Truncated),
                "cut at {cut}"
            );
        }
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn a_corrupt_count_is_truncation_not_an_allocation() {
        let mut bytes = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, DELIVER_USERS, 0];
        bytes.extend(u32::MAX.to_be_bytes());
        assert_eq!(decode(&bytes), Err(DecodeError::Truncated));
    }
}
