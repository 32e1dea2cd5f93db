//! What an app registration says of its tokens' claims: `groupMembershipClaims` and
//! `optionalClaims` (<https://learn.microsoft.com/entra/identity-platform/optional-claims>).

/// Which group-like claims an app's tokens carry: the manifest's `groupMembershipClaims`
/// (<https://learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest>),
/// `None`, `SecurityGroup`, `DirectoryRole`, `ApplicationGroup` or `All` (several may be given,
/// comma separated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembership {
    /// `groups` with every security group of the user.
    pub security_groups: bool,
    /// `groups` with the groups assigned to the application.
    pub application_groups: bool,
    /// `wids` with the user's directory roles.
    pub directory_roles: bool,
}

impl GroupMembership {
    pub fn parse(value: &str) -> Option<Self> {
        let mut g = GroupMembership::default();
        for part in value.split(',').map(str::trim) {
            match part {
                "None" => {}
                "SecurityGroup" => g.security_groups = true,
                "ApplicationGroup" => g.application_groups = true,
                "DirectoryRole" => g.directory_roles = true,
                "All" => {
                    g.security_groups = true;
                    g.directory_roles = true;
                }
                _ => return None,
            }
        }
        Some(g)
    }
}

/// The optional claims entra-mock can emit when an app's `optionalClaims` names them
/// (<https://learn.microsoft.com/entra/identity-platform/optional-claims-reference>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionalClaim {
    /// `app`: the token type, in app-only access tokens ("By default it's only emitted for
    /// app-only tokens", optional-claims-reference; its `include_user_token` is not modelled).
    Idtyp,
    /// The opaque hint MSAL sends back as `login_hint` / `logout_hint`.
    LoginHint,
    Email,
    Upn,
    GivenName,
    FamilyName,
    /// `0`: a member of the tenant.
    Acct,
    /// The client capabilities (`cp1`: CAE) a client declared, in access tokens for a resource
    /// that asks for them.
    XmsCc,
    /// The session id: entra-mock puts it in every token of a sign-in session already (ID
    /// tokens and delegated access tokens), so asking for it changes nothing.
    Sid,
    /// "Time when the user last authenticated" (optional-claims-reference, the v1.0 and v2.0
    /// set): the sign-in's time, kept by every token refreshed from it, in ID tokens and in a
    /// user's access tokens (app-only tokens have no user to have authenticated). ID tokens
    /// also carry it when the request sent `max_age`, asked for or not.
    AuthTime,
}

impl OptionalClaim {
    pub const ALL: [OptionalClaim; 10] = [
        OptionalClaim::Idtyp,
        OptionalClaim::LoginHint,
        OptionalClaim::Email,
        OptionalClaim::Upn,
        OptionalClaim::GivenName,
        OptionalClaim::FamilyName,
        OptionalClaim::Acct,
        OptionalClaim::XmsCc,
        OptionalClaim::Sid,
        OptionalClaim::AuthTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OptionalClaim::Idtyp => "idtyp",
            OptionalClaim::LoginHint => "login_hint",
            OptionalClaim::Email => "email",
            OptionalClaim::Upn => "upn",
            OptionalClaim::GivenName => "given_name",
            OptionalClaim::FamilyName => "family_name",
            OptionalClaim::Acct => "acct",
            OptionalClaim::XmsCc => "xms_cc",
            OptionalClaim::Sid => "sid",
            OptionalClaim::AuthTime => "auth_time",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// How the `groups` optional claim's `additionalProperties` reshape the group claims of one token
/// type (<https://learn.microsoft.com/entra/identity-platform/optional-claims#configure-groups-optional-claims>).
/// The on-premises name forms (`sam_account_name`, `dns_domain_and_sam_account_name`,
/// `netbios_domain_and_sam_account_name`) are accepted and change nothing: every group here is a
/// cloud group, and "Groups managed in Azure AD don't contain the attributes necessary to emit
/// these claims" (how-to-connect-fed-group-claims), so their object ids are emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupsFormat {
    /// `emit_as_roles`: "The group values are emitted in the role claim. If `emit_as_roles` is
    /// used, any application roles configured that the user (or a resource application) is
    /// assigned aren't in the role claim."
    pub emit_as_roles: bool,
    /// `cloud_displayname`: the groups' display names instead of their ids; "This option works
    /// only when `groupMembershipClaims` is set to `ApplicationGroup`."
    pub cloud_displayname: bool,
}

impl GroupsFormat {
    /// The `additionalProperties` Entra lists for the `groups` optional claim.
    pub const PROPERTIES: [&'static str; 5] = [
        "sam_account_name",
        "dns_domain_and_sam_account_name",
        "netbios_domain_and_sam_account_name",
        "emit_as_roles",
        "cloud_displayname",
    ];

    /// The format `additionalProperties` ask for, or the first property Entra does not list.
    pub fn parse(properties: &[String]) -> Result<Self, &str> {
        let mut f = GroupsFormat::default();
        for p in properties {
            match p.as_str() {
                "emit_as_roles" => f.emit_as_roles = true,
                "cloud_displayname" => f.cloud_displayname = true,
                other if Self::PROPERTIES.contains(&other) => {}
                other => return Err(other),
            }
        }
        Ok(f)
    }
}

/// Entra's limit of groups in a JWT before the overage form
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim>).
pub const GROUPS_OVERAGE_LIMIT: usize = 200;

/// How an app registration shapes the claims of its tokens: the ID tokens it receives as a client,
/// the access tokens issued for it as a resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimsConfig {
    pub group_membership: GroupMembership,
    pub id_token: Vec<OptionalClaim>,
    pub access_token: Vec<OptionalClaim>,
    pub groups_overage_limit: usize,
    /// The `groups` optional claim of `idToken` and of `accessToken`.
    pub id_token_groups: GroupsFormat,
    pub access_token_groups: GroupsFormat,
    /// The `aud` optional claim of `accessToken` with `use_guid`: v1 access tokens for this API
    /// name it by client id, however the request named it (optional-claims-reference, "Emits the
    /// client ID of the resource (API) in GUID format as the `aud` claim always").
    pub aud_use_guid: bool,
    /// The `idtyp` optional claim of `accessToken` with `include_user_token`: access tokens of
    /// users carry `idtyp: user` too, not only app-only ones `idtyp: app`.
    pub idtyp_user: bool,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        ClaimsConfig {
            group_membership: GroupMembership::default(),
            id_token: Vec::new(),
            access_token: Vec::new(),
            groups_overage_limit: GROUPS_OVERAGE_LIMIT,
            id_token_groups: GroupsFormat::default(),
            access_token_groups: GroupsFormat::default(),
            aud_use_guid: false,
            idtyp_user: false,
        }
    }
}
