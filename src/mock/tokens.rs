//! `POST /_mock/tokens`: tokens minted without a flow, for tests of a resource server or a client
//! cache: an access, ID or refresh token for a user or an app, with claim overrides and deliberate
//! defects, each of which a correct validator must refuse for its own reason. Minted tokens are
//! what the token endpoint would issue (same minters, same keys); minted refresh tokens are stored
//! and redeem at `/token`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{BigUint, RsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::directory::{Application, ClientType, Platform, User};
use crate::error::{Error, Result};
use crate::keys::{generate, KeyState, SigningKey};
use crate::oauth::claims::{self, AccessTokenInput, AuthMethod, IdTokenInput, Subject, UserGrant};
use crate::oauth::grants::scopes;
use crate::oauth::params::Endpoint;
use crate::signin::Amr;
use crate::state::AppState;
use crate::store::refresh::{ChainKind, RefreshGrant};

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Id,
    Refresh,
}

/// What is wrong with a minted token on purpose.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// `exp` an hour ago.
    Expired,
    /// `nbf` an hour ahead.
    NotYetValid,
    /// `aud` names no registered API.
    WrongAudience,
    /// `iss` is not the tenant's issuer.
    WrongIssuer,
    /// `tid` and `iss` of another tenant.
    WrongTenant,
    /// Signed by a key that was never published.
    UnknownKid,
    /// Signed by a retired key (rotate one out first).
    RetiredKey,
    /// A signature that does not verify.
    BadSignature,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 keyed with the active key's public key (the key-confusion attack).
    Hs256WithPublicKey,
    /// An access token without `scp` or `roles`.
    MissingScope,
}

#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub client_id: String,
    /// Object id or UPN; absent: an app-only access token.
    pub user: Option<String>,
    /// Delegated: scopes as at `/token` (default `User.Read`); app-only: `{resource}/.default`
    /// (default Microsoft Graph).
    pub scope: Option<String>,
    /// Claims to set (a `null` removes the claim).
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Map<String, Value>>,
    pub defect: Option<Defect>,
    /// `amr` of a user token (default `["pwd"]`).
    pub amr: Option<Vec<Amr>>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Minted {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// The payload of a JWT, as signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defect: Option<Defect>,
}

fn refuse(reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        name: "token",
        reason: reason.into(),
    }
}

/// A key that was never published, made once per process for `unknown-kid`.
static UNPUBLISHED: OnceCell<SigningKey> = OnceCell::const_new();

async fn unpublished_key(now: i64) -> Result<&'static SigningKey> {
    UNPUBLISHED
        .get_or_try_init(|| async {
            let row = generate(now).await?;
            SigningKey::from_row(&row)
        })
        .await
        .map_err(Error::Internal)
}

/// How the token endpoint would have seen the client authenticate: a public client sends no
/// credential (`azpacr`/`appidacr` `0`), a confidential one its secret (`1`), or its certificate
/// (`2`) when it has no secret
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>).
fn minted_client_auth(app: &Application) -> AuthMethod {
    match app.fallback_client_type {
        ClientType::Public => AuthMethod::None,
        ClientType::Confidential if !app.secrets.is_empty() => AuthMethod::Secret,
        ClientType::Confidential
            if !(app.certificates.is_empty() && app.federated_credentials.is_empty()) =>
        {
            AuthMethod::Certificate
        }
        // No credential: the app can only sign in as a public client.
        ClientType::Confidential => AuthMethod::None,
    }
}

pub async fn mint(state: &AppState, req: MintRequest, base_url: &str, now: i64) -> Result<Minted> {
    let directory = &state.directory();
    let app = directory
        .applications
        .get(&req.client_id.to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| refuse(format!("no application '{}'.", req.client_id)))?;
    let user = match &req.user {
        Some(u) => Some(
            state
                .store
                .user_by_id_or_upn(u)
                .await?
                .ok_or_else(|| Error::NotFound(format!("user '{u}'")))?,
        ),
        None => None,
    };
    let amr = req.amr.clone().unwrap_or_else(|| vec![Amr::Pwd]);
    if req.token_type == TokenType::Refresh {
        if req.defect.is_some() || req.claims.is_some() {
            return Err(refuse("refresh tokens are opaque: no claims or defects."));
        }
        let user = user.ok_or_else(|| refuse("a refresh token needs a 'user'."))?;
        return mint_refresh(state, &app, &user, req.scope.as_deref(), amr, now).await;
    }
    if req.defect == Some(Defect::MissingScope) && req.token_type != TokenType::Access {
        return Err(refuse("'missing-scope' applies to access tokens."));
    }
    let keys = state.keys.snapshot();
    let client_auth = minted_client_auth(&app);
    let token = match (req.token_type, &user) {
        (TokenType::Id, None) => return Err(refuse("an ID token needs a 'user'.")),
        (TokenType::Id, Some(user)) => claims::mint_id_token(
            &keys,
            &IdTokenInput {
                base_url,
                directory,
                app: &app,
                user,
                session_id: None,
                amr: &amr,
                auth_time: now,
                include_auth_time: false,
                nonce: None,
                with_email: false,
                with_profile: true,
                code: None,
                access_token: None,
                endpoint: Endpoint::V2,
                delivery: crate::oauth::claims::Delivery::TokenResponse,
                now,
            },
        )?,
        (_, Some(user)) => {
            let scope = req.scope.as_deref().unwrap_or("User.Read");
            let s = scopes::delegated(directory, &app, scope)?;
            claims::mint_access_token(
                &keys,
                &AccessTokenInput {
                    base_url,
                    directory,
                    tid: &user.tenant_id,
                    client: &app,
                    client_auth,
                    target: &s.target,
                    subject: Subject::User(UserGrant {
                        user,
                        scp: &s.values,
                        amr: &amr,
                        session_id: None,
                        auth_time: now,
                        acrs: Vec::new(),
                        client_capabilities: Vec::new(),
                    }),
                    delivery: crate::oauth::claims::Delivery::TokenResponse,
                    now,
                },
            )?
            .token
        }
        (_, None) => {
            let scope = req
                .scope
                .as_deref()
                .unwrap_or("https://graph.microsoft.com/.default");
            let (target, roles) = scopes::app_only(directory, &app, scope)?;
            claims::mint_access_token(
                &keys,
                &AccessTokenInput {
                    base_url,
                    directory,
                    tid: &app.tenant_id,
                    client: &app,
                    client_auth,
                    target: &target,
                    subject: Subject::App { roles },
                    delivery: crate::oauth::claims::Delivery::TokenResponse,
                    now,
                },
            )?
            .token
        }
    };
    if req.claims.is_none() && req.defect.is_none() {
        return Ok(Minted {
            claims: Some(payload_of(&token)?),
            token,
            token_type: req.token_type,
            defect: None,
        });
    }
    let (header, mut payload) = (header_of(&token)?, payload_of(&token)?);
    if let (Some(overrides), Value::Object(p)) = (&req.claims, &mut payload) {
        for (k, v) in overrides {
            match v {
                Value::Null => p.remove(k),
                v => p.insert(k.clone(), v.clone()),
            };
        }
    }
    let token = match req.defect {
        None => resign(&keys.active, &header, &payload)?,
        Some(defect) => defective(state, defect, &header, payload.clone(), now).await?,
    };
    Ok(Minted {
        claims: Some(payload_of(&token).unwrap_or(payload)),
        token,
        token_type: req.token_type,
        defect: req.defect,
    })
}

fn part(token: &str, i: usize) -> Result<Value> {
    token
        .split('.')
        .nth(i)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a minted token did not decode")))
}

fn header_of(token: &str) -> Result<Value> {
    part(token, 0)
}

fn payload_of(token: &str) -> Result<Value> {
    part(token, 1)
}

/// Signs `payload` with `key`, keeping the original header's `x5t` (v1 tokens).
fn resign(key: &SigningKey, header: &Value, payload: &Value) -> Result<String> {
    Ok(key.sign(payload, header.get("x5t").is_some())?)
}

fn set(payload: &mut Value, name: &str, value: Value) {
    if let Value::Object(p) = payload {
        p.insert(name.into(), value);
    }
}

async fn defective(
    state: &AppState,
    defect: Defect,
    header: &Value,
    mut payload: Value,
    now: i64,
) -> Result<String> {
    let keys = state.keys.snapshot();
    let active = &keys.active;
    let tid = payload["tid"].as_str().unwrap_or_default().to_string();
    match defect {
        Defect::Expired => {
            set(&mut payload, "iat", (now - 7200).into());
            set(&mut payload, "nbf", (now - 7200).into());
            set(&mut payload, "exp", (now - 3600).into());
            resign(active, header, &payload)
        }
        Defect::NotYetValid => {
            set(&mut payload, "iat", (now + 3600).into());
            set(&mut payload, "nbf", (now + 3600).into());
            set(&mut payload, "exp", (now + 7200).into());
            resign(active, header, &payload)
        }
        Defect::WrongAudience => {
            set(
                &mut payload,
                "aud",
                "api://entra-mock-no-such-audience".into(),
            );
            resign(active, header, &payload)
        }
        Defect::WrongIssuer => {
            set(
                &mut payload,
                "iss",
                format!("https://issuer.invalid/{tid}/v2.0").into(),
            );
            resign(active, header, &payload)
        }
        Defect::WrongTenant => {
            let other = crate::crypto::random_uuid().to_string();
            let iss = payload["iss"]
                .as_str()
                .unwrap_or_default()
                .replace(&tid, &other);
            set(&mut payload, "tid", other.into());
            set(&mut payload, "iss", iss.into());
            resign(active, header, &payload)
        }
        Defect::UnknownKid => resign(unpublished_key(now).await?, header, &payload),
        Defect::RetiredKey => {
            let rows = state.store.signing_keys().await?;
            let row = rows
                .iter()
                .rev()
                .find(|r| r.state == KeyState::Retired.as_str())
                .ok_or_else(|| {
                    refuse("no key is retired yet: POST /_mock/keys/rotate {\"phase\": \"roll-now\"} first.")
                })?;
            resign(&SigningKey::from_row(row)?, header, &payload)
        }
        Defect::BadSignature => {
            let token = resign(active, header, &payload)?;
            let (signed, signature) = token
                .rsplit_once('.')
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("a JWT without a signature")))?;
            let mut sig = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|e| Error::Internal(e.into()))?;
            if let Some(b) = sig.first_mut() {
                *b ^= 0x01;
            }
            Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
        }
        Defect::AlgNone => {
            let header = serde_json::json!({"typ": "JWT", "alg": "none"});
            Ok(format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(payload.to_string())
            ))
        }
        Defect::Hs256WithPublicKey => {
            let public = RsaPublicKey::new(
                BigUint::from_bytes_be(&active.n),
                BigUint::from_bytes_be(&active.e),
            )
            .map_err(|e| Error::Internal(e.into()))?;
            let pem = public
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
            let mut h = Header::new(Algorithm::HS256);
            h.typ = Some("JWT".into());
            h.kid = Some(active.kid.clone());
            jsonwebtoken::encode(&h, &payload, &EncodingKey::from_secret(pem.as_bytes()))
                .map_err(|e| Error::Internal(e.into()))
        }
        Defect::MissingScope => {
            if let Value::Object(p) = &mut payload {
                p.remove("scp");
                p.remove("roles");
            }
            resign(active, header, &payload)
        }
    }
}

/// A stored refresh token for `user` and `app`, as if the user had signed in with `amr` now.
async fn mint_refresh(
    state: &AppState,
    app: &Application,
    user: &User,
    scope: Option<&str>,
    amr: Vec<Amr>,
    now: i64,
) -> Result<Minted> {
    let scope = format!(
        "openid profile offline_access {}",
        scope.unwrap_or("User.Read")
    );
    // The scope must resolve as the refresh grant will resolve it.
    scopes::delegated(&state.directory(), app, &scope)?;
    let spa_only =
        !app.redirect_uris.is_empty() && app.redirect_uris.iter().all(|(p, _)| *p == Platform::Spa);
    let grant = RefreshGrant {
        family_id: crate::crypto::random_b64(18),
        client_id: app.client_id.clone(),
        user_oid: user.oid.clone(),
        scope,
        session_id: None,
        amr,
        auth_time: now,
        kind: if spa_only {
            ChainKind::Spa
        } else {
            ChainKind::Standard
        },
        client_type: if spa_only {
            ClientType::Public
        } else {
            minted_client_auth(app).client_type()
        },
        family_created_at: now,
        created_at: now,
        used_at: None,
        revoked_at: None,
    };
    let token = crate::oauth::grants::new_refresh_token();
    let mut tx = state.store.write().await?;
    tx.insert_refresh(&token, &grant).await?;
    tx.commit().await?;
    Ok(Minted {
        token,
        token_type: TokenType::Refresh,
        claims: None,
        defect: None,
    })
}
