//! Authentication method references (`amr`), as stored with sessions, codes and refresh tokens
//! and written into tokens
//! (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>, `amr`).
//! A stored value that does not parse is an error, never an empty list.

use serde::{Deserialize, Serialize};

/// An authentication method reference (`amr` value).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    Pwd,
    Otp,
    Hwk,
    Mfa,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Hwk => "hwk",
            Amr::Mfa => "mfa",
        }
    }
}

/// The amr of a sign-in, as a JSON array.
pub fn amr_json(amr: &[Amr]) -> String {
    serde_json::Value::from(amr.iter().map(|a| a.as_str()).collect::<Vec<_>>()).to_string()
}

/// Parses a stored amr array; anything but a JSON array of known values is an error.
pub fn parse_amr_json(json: &str) -> Result<Vec<Amr>, serde_json::Error> {
    serde_json::from_str(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_amr_round_trips_and_garbage_is_an_error() {
        let amr = [Amr::Pwd, Amr::Otp, Amr::Mfa];
        assert_eq!(parse_amr_json(&amr_json(&amr)).unwrap(), amr);
        assert!(parse_amr_json("").is_err());
        assert!(parse_amr_json(r#"["pwd","sms"]"#).is_err());
        assert!(parse_amr_json("{}").is_err());
    }
}
