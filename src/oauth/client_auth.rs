//! Client authentication at the token and revocation endpoints (RFC 6749 section 2.3):
//! `client_secret_post`, `client_secret_basic` and `private_key_jwt` (RFC 7523 section 2.2, as
//! Entra's certificate credentials:
//! <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>), federated
//! credentials (an external issuer's token as the assertion, `oauth::federation`), and public
//! clients, which must present no credential at all (AADSTS700025). Which of the two a request's
//! client is, each grant decides ([`ClientType`]).

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::crypto::{digest_eq, sha256};
use crate::directory::{
    Application, AssertionReuse, ClientCertificate, ClientType, ResolvedTenant, ValidityPhase,
};
use crate::error::{Error, Result};
use crate::keys::verify::signature_only;
pub use crate::oauth::claims::AuthMethod;
use crate::oauth::federation::{within_time_range, Audience, SKEW_SECS};
use crate::oauth::params::{Params, Secret};
use crate::state::AppState;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub app: Arc<Application>,
    pub method: AuthMethod,
}

impl AuthenticatedClient {
    /// The client type a grant decided ([`ClientType`]) against the credential presented: a
    /// public client presents none (AADSTS700025), a confidential one must (AADSTS7000218).
    pub fn require(&self, client_type: ClientType) -> Result<()> {
        match (client_type, self.method.client_type()) {
            (ClientType::Public, ClientType::Confidential) => Err(Error::PublicClientWithSecret),
            (ClientType::Confidential, ClientType::Public) => Err(Error::MissingClientCredential),
            _ => Ok(()),
        }
    }
}

/// The credential a request presents.
#[derive(Debug)]
enum Credential {
    None,
    Secret(Secret),
    Assertion(Secret),
}

/// Identifies and authenticates the client of a request.
pub async fn authenticate(
    state: &AppState,
    tenant: &ResolvedTenant,
    params: &Params,
    authorization: Option<&Secret>,
    base_url: &str,
    now: i64,
) -> Result<AuthenticatedClient> {
    let basic = authorization.and_then(|h| parse_basic(h.expose()));
    let body_id = params.get("client_id").map(str::to_ascii_lowercase);
    let basic_id = basic.as_ref().map(|(id, _)| id.to_ascii_lowercase());
    if let (Some(a), Some(b)) = (&body_id, &basic_id) {
        if a != b {
            return Err(Error::InvalidParameter {
                name: "client_id",
                reason: "the client_id of the body and of the Authorization header differ".into(),
            });
        }
    }
    let secret = params
        .secret("client_secret")
        .or_else(|| basic.map(|(_, s)| s));
    let credential = match (secret, params.secret("client_assertion")) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidParameter {
                name: "client_assertion",
                reason: "a request must use one client authentication method only".into(),
            })
        }
        (Some(s), None) => Credential::Secret(s),
        (None, Some(a)) => {
            if params.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(Error::InvalidClientAssertion(format!(
                    "client_assertion_type must be '{JWT_BEARER}'."
                )));
            }
            Credential::Assertion(a)
        }
        (None, None) => Credential::None,
    };
    // An assertion's `iss` and `sub`, read once before it is checked: the subject may name the
    // client, and the issuer tells a certificate assertion from a federated one.
    let unverified = match &credential {
        Credential::Assertion(a) => unverified_claims(a.expose()),
        _ => None,
    };
    let client_id = match body_id.or(basic_id) {
        Some(id) => id,
        // RFC 7523 section 3: the assertion's subject names the client.
        None => match &unverified {
            Some(u) => u.sub.to_ascii_lowercase(),
            None => return Err(Error::MissingParameter("client_id")),
        },
    };
    let app = state.directory().application(tenant, &client_id)?;
    // Whether the client must authenticate depends on the grant (`ClientType`), which checks it
    // with [`AuthenticatedClient::require`] once it knows the type; here a credential that is
    // presented must be valid. An app with no credential registered can only act as a public
    // client: "Client is public so neither 'client_assertion' nor 'client_secret' should be
    // presented" (AADSTS700025).
    let method = match credential {
        Credential::None => AuthMethod::None,
        _ if !app.has_credentials() => return Err(Error::PublicClientWithSecret),
        Credential::Secret(s) => {
            check_secret(&app, &s, now)?;
            AuthMethod::Secret
        }
        // An assertion whose issuer is a URL (GitHub's, a Kubernetes cluster's, entra-mock's own
        // `{base}/_mock/federation`) is a federated credential; the client's own names itself.
        Credential::Assertion(a)
            if unverified
                .as_ref()
                .and_then(|u| u.iss.as_deref())
                .is_some_and(is_url) =>
        {
            crate::oauth::federation::verify(
                state.http()?,
                &state.issuer_keys,
                &app,
                a.expose(),
                base_url,
                now,
            )
            .await?;
            AuthMethod::Certificate
        }
        Credential::Assertion(a) => {
            if let Some(u) = &unverified {
                check_identifiers(&app, u)?;
            }
            let audiences = token_endpoints(base_url, tenant);
            let claims = check_assertion(&app, a.expose(), &audiences, now)?;
            // jti is single use (RFC 7523 section 3, item 7), per client, unless the app follows
            // real Entra, which accepts the assertion MSAL caches and re-sends.
            let key = format!("{}:{}", app.client_id, claims.jti);
            if app.assertion_reuse == AssertionReuse::Reject
                && !state
                    .store
                    .record_assertion(&key, (claims.exp as i64).saturating_add(SKEW_SECS), now)
                    .await?
            {
                return Err(Error::InvalidClientAssertion(
                    "The assertion's jti was already used.".into(),
                ));
            }
            AuthMethod::Certificate
        }
    };
    Ok(AuthenticatedClient { app, method })
}

/// Compares against every registered secret in constant time, then looks at the matching
/// secret's dates by the virtual clock. An app rotating its secrets holds an expired one and a
/// valid one: either may be sent, and only the expired one is refused, with AADSTS7000222.
/// A secret before its startDateTime gets AADSTS7000215, as a wrong secret: no answer of
/// Entra's to one is recorded (that a secret dated ahead is not usable is known, e.g.
/// Azure/azure-cli pull request 1408, without its answer; a script-made secret answered
/// 7000222 in Azure-Samples/active-directory-dotnetcore-daemon-v2 issue 87, cause unconfirmed).
fn check_secret(app: &Application, secret: &Secret, now: i64) -> Result<()> {
    let digest = sha256(secret.expose().as_bytes());
    let (mut valid, mut expired) = (false, false);
    for s in &app.secrets {
        let matches = digest_eq(&s.digest, &digest);
        match s.validity.at(now) {
            ValidityPhase::Valid => valid |= matches,
            ValidityPhase::Expired => expired |= matches,
            ValidityPhase::NotYetValid => {}
        }
    }
    if valid {
        Ok(())
    } else if expired {
        Err(Error::ClientSecretExpired(app.client_id.clone()))
    } else {
        Err(Error::InvalidClientSecret(app.client_id.clone()))
    }
}

/// A certificate used outside its startDateTime..endDateTime: Entra names the key by its SHA-1
/// thumbprint in hex and its dates as .NET prints them (`MM/dd/yyyy HH:mm:ss`, UTC), an open
/// side as .NET's `DateTime.MinValue` or `MaxValue`.
fn check_certificate_dates(app: &Application, cert: &ClientCertificate, now: i64) -> Result<()> {
    if cert.validity.at(now) == ValidityPhase::Valid {
        return Ok(());
    }
    let thumbprint = URL_SAFE_NO_PAD
        .decode(&cert.thumbprint_sha1)
        .map(hex::encode_upper)
        .unwrap_or_default();
    Err(Error::ClientCertificateExpired {
        client_id: app.client_id.clone(),
        thumbprint,
        start: entra_date(cert.validity.start, "01/01/0001 00:00:00"),
        end: entra_date(cert.validity.end, "12/31/9999 23:59:59"),
    })
}

fn entra_date(unix: Option<i64>, open: &str) -> String {
    match unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) {
        Some(t) => format!(
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02}",
            u8::from(t.month()),
            t.day(),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        None => open.to_string(),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 section 2.3.1).
fn parse_basic(header: &str) -> Option<(String, Secret)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id), Secret::new(form_decode(secret))))
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The token endpoint URLs an assertion may name as `aud`: v2 and v1 paths, for the tenant segment
/// the client used, the tenant id and its domain.
fn token_endpoints(base_url: &str, tenant: &ResolvedTenant) -> Vec<String> {
    let mut out = Vec::new();
    for seg in [
        tenant.segment.as_str(),
        tenant.tenant.id.as_str(),
        tenant.tenant.domain.as_str(),
    ] {
        for path in ["oauth2/v2.0/token", "oauth2/token"] {
            out.push(format!("{base_url}/{seg}/{path}").to_ascii_lowercase());
        }
    }
    out
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    // NumericDate may have a fraction (RFC 7519 section 2): MSAL Python sends `time.time()`.
    exp: f64,
    nbf: Option<f64>,
    #[serde(default)]
    jti: String,
}

/// The `iss` and `sub` of an assertion, unverified: only used to find the client and to tell
/// a federated assertion from the client's own.
struct Unverified {
    iss: Option<String>,
    sub: String,
}

fn unverified_claims(assertion: &str) -> Option<Unverified> {
    #[derive(Deserialize)]
    struct IssSub {
        iss: Option<String>,
        sub: String,
    }
    jsonwebtoken::dangerous::insecure_decode::<IssSub>(assertion)
        .ok()
        .map(|d| Unverified {
            iss: d.claims.iss,
            sub: d.claims.sub,
        })
}

/// An absolute `http(s)` URL: what a federated credential's issuer is.
fn is_url(iss: &str) -> bool {
    url::Url::parse(iss).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
}

/// A certificate assertion names its client as both `iss` and `sub` (certificate-credentials,
/// "Claims (payload)"). Entra tells the two mistakes apart: an `iss` other than the `sub` is
/// SubjectMismatchesIssuer (AADSTS50048, quoted in AzureAD/microsoft-authentication-library-for-java
/// issue 430), another client named as both is AADSTS700021 (MSAL.NET's test mocks,
/// `IdentifierMismatchError700021`). Checked before the signature: it names the wrong app's
/// certificates.
fn check_identifiers(app: &Application, claims: &Unverified) -> Result<()> {
    match claims.iss.as_deref() {
        Some(iss) if !iss.eq_ignore_ascii_case(&claims.sub) => {
            Err(Error::ClientAssertionSubjectNotIssuer)
        }
        _ if !claims.sub.eq_ignore_ascii_case(&app.client_id) => {
            Err(Error::ClientAssertionOtherClient)
        }
        _ => Ok(()),
    }
}

fn find_certificate<'a>(
    app: &'a Application,
    header: &jsonwebtoken::Header,
) -> Option<&'a ClientCertificate> {
    let trim = |s: &str| s.trim_end_matches('=').to_string();
    if let Some(t) = header.x5t_s256.as_deref().map(trim) {
        return app.certificates.iter().find(|c| c.thumbprint_sha256 == t);
    }
    if let Some(t) = header.x5t.as_deref().map(trim) {
        return app.certificates.iter().find(|c| c.thumbprint_sha1 == t);
    }
    None
}

/// Validates a `private_key_jwt` assertion: signature by a registered certificate (RS256 with
/// `x5t`, PS256 with `x5t#S256`), `iss` = `sub` = client id, `aud` = the token endpoint alone,
/// time window checked against the injected clock, and a `jti`.
fn check_assertion(
    app: &Application,
    assertion: &str,
    audiences: &[String],
    now: i64,
) -> Result<AssertionClaims> {
    let fail = |m: &str| Error::InvalidClientAssertion(m.to_string());
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| fail("The client assertion is not a JWT."))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(fail(
            "The client assertion must be signed with RS256 or PS256.",
        ));
    }
    let cert = find_certificate(app, &header).ok_or_else(|| {
        Error::InvalidClientAssertion(format!(
            "No certificate with the thumbprint of the assertion's x5t or x5t#S256 header is registered for application '{}'.",
            app.client_id
        ))
    })?;
    check_certificate_dates(app, cert, now)?;
    let key = DecodingKey::from_rsa_der(&cert.public_key_der);
    let claims: AssertionClaims = signature_only(assertion, header.alg, &key)
        .map_err(|e| Error::InvalidClientAssertion(format!("Signature validation failed: {e}.")))?;
    if !claims.iss.eq_ignore_ascii_case(&app.client_id)
        || !claims.sub.eq_ignore_ascii_case(&app.client_id)
    {
        return Err(Error::ClientAssertionOtherClient);
    }
    // One audience, the token endpoint (certificate-credentials, "Claims (payload)"); Entra
    // refuses a list of two before it looks at them.
    let named = |a: &&str| audiences.contains(&a.to_ascii_lowercase());
    let values = claims.aud.values();
    if values.len() > 1 {
        return Err(Error::ClientAssertionAudiences(values.len()));
    }
    if !values.iter().any(named) {
        return Err(Error::ClientAssertionAudience);
    }
    // AADSTS700024, as for a federated assertion (quoted for certificate assertions in
    // AzureAD/microsoft-authentication-library-for-java issue 984).
    within_time_range(claims.exp, claims.nbf, now)?;
    if claims.jti.is_empty() {
        return Err(fail("The client assertion must have a jti."));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aapp:s%2Bcr+t"));
        let (id, secret) = parse_basic(&header).unwrap();
        assert_eq!(id, "my:app");
        assert_eq!(secret.expose(), "s+cr t");
        assert!(parse_basic("Bearer abc").is_none());
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "<redacted>");
    }
}
