//! The claims a registration configures: `groups` / `wids` (`groupMembershipClaims` and the
//! `groups` optional claim) and the other optional claims
//! (<https://learn.microsoft.com/entra/identity-platform/optional-claims>).

use serde_json::{json, Map, Value};

use super::{login_hint, Delivery, WIDS_MEMBER};
use crate::directory::{ClaimsConfig, Directory, GroupsFormat, OptionalClaim, User};

/// The most groups a token from `/authorize` lists: the implicit flow's `groups` claim would
/// lengthen the URI fragment past the URL length limits, so "`hasgroups`: Used in place of the
/// groups claim for JWTs in implicit grant flows if the full groups claim would extend the URI
/// fragment beyond the URL length limits (currently six or more groups)", and the overage limit is
/// "only 6 if issued by using the implicit flow"
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>).
const IMPLICIT_GROUPS_MAX: usize = 5;

/// `groups` and `wids` as the registration's `groupMembershipClaims` asks; past its overage limit
/// the overage form instead of `groups`
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim>),
/// and from `/authorize` past [`IMPLICIT_GROUPS_MAX`] `"hasgroups": true` instead. The `groups`
/// optional claim's `format` may name the groups by display name and put them in `roles` (the
/// caller then leaves the app roles out).
pub(super) fn group_claims(
    c: &mut Map<String, Value>,
    directory: &Directory,
    config: &ClaimsConfig,
    format: GroupsFormat,
    user: &User,
    app_client_id: &str,
    delivery: Delivery,
) {
    let g = config.group_membership;
    let groups = if g.security_groups {
        directory.groups_of(&user.oid)
    } else if g.application_groups {
        let ids = directory.app_groups_of(&user.oid, app_client_id);
        // `cloud_displayname` "works only when `groupMembershipClaims` is set to
        // `ApplicationGroup`" (optional-claims, "Configure groups optional claims").
        if format.cloud_displayname {
            ids.iter()
                .map(|id| directory.group_display_name(id).unwrap_or(id).to_string())
                .collect()
        } else {
            ids
        }
    } else {
        Vec::new()
    };
    if delivery == Delivery::Authorize && groups.len() > IMPLICIT_GROUPS_MAX {
        c.insert("hasgroups".into(), json!(true));
    } else if groups.len() > config.groups_overage_limit {
        c.insert("_claim_names".into(), json!({ "groups": "src1" }));
        c.insert(
            "_claim_sources".into(),
            json!({ "src1": { "endpoint": format!(
                "https://graph.windows.net/{}/users/{}/getMemberObjects",
                user.tenant_id, user.oid
            ) } }),
        );
    } else if !groups.is_empty() {
        // `emit_as_roles`: "The group values are emitted in the role claim."
        let name = if format.emit_as_roles {
            "roles"
        } else {
            "groups"
        };
        c.insert(name.into(), json!(groups));
    }
    if g.directory_roles {
        c.insert("wids".into(), json!([WIDS_MEMBER]));
    }
}

/// The optional claims a registration asked for (`idtyp` only in app-only access tokens, where
/// `token_type` says what it is; `xms_cc` by the request, in `user_claims`).
pub(super) fn optional_claims(
    c: &mut Map<String, Value>,
    wanted: &[OptionalClaim],
    user: &User,
    token_type: Option<&str>,
) {
    for claim in wanted {
        let value = match claim {
            OptionalClaim::Idtyp => token_type.map(|t| json!(t)),
            OptionalClaim::LoginHint => Some(json!(login_hint(user))),
            OptionalClaim::Email => user.mail.as_ref().map(|m| json!(m)),
            OptionalClaim::Upn => Some(json!(user.upn)),
            OptionalClaim::GivenName => user.given_name.as_ref().map(|g| json!(g)),
            OptionalClaim::FamilyName => user.surname.as_ref().map(|s| json!(s)),
            OptionalClaim::Acct => Some(json!(0)),
            // Set by the minters, which know the sign-in's time.
            OptionalClaim::XmsCc | OptionalClaim::Sid | OptionalClaim::AuthTime => None,
        };
        if let Some(v) = value {
            c.insert(claim.name().into(), v);
        }
    }
}
