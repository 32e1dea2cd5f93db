//! MSAL's `client_info` (requested with `client_info=1`): base64url, unpadded, of
//! `{"uid": oid, "utid": tid}`, which MSAL uses as the account's home id. One home for the
//! switch and the encoding, used by the `/authorize` reply and the token response.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Whether the answer carries `client_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientInfo {
    Omit,
    Include,
}

impl ClientInfo {
    /// From the request's `client_info` parameter: only `1` asks for it.
    pub fn from_param(value: Option<&str>) -> Self {
        if value == Some("1") {
            ClientInfo::Include
        } else {
            ClientInfo::Omit
        }
    }

    /// The encoded value when asked for.
    pub fn value(self, oid: &str, tid: &str) -> Option<String> {
        (self == ClientInfo::Include).then(|| encode(oid, tid))
    }
}

pub fn encode(oid: &str, tid: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!({ "uid": oid, "utid": tid }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_is_unpadded_base64url_of_uid_and_utid() {
        let v = ClientInfo::from_param(Some("1")).value("o", "t").unwrap();
        let json = URL_SAFE_NO_PAD.decode(v).unwrap();
        assert_eq!(json, br#"{"uid":"o","utid":"t"}"#);
        assert_eq!(ClientInfo::from_param(Some("0")).value("o", "t"), None);
        assert_eq!(ClientInfo::from_param(None), ClientInfo::Omit);
    }
}
