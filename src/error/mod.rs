//! The one error type. Every variant is an error Entra ID puts on the wire: it knows its OAuth
//! `error` string, its AADSTS number, its message and its HTTP status, and [`Error::body`] renders
//! the JSON shape of Microsoft's identity platform.
//! See <https://learn.microsoft.com/entra/identity-platform/reference-error-codes> and
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#error-response-1>.

use actix_web::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Tenant '{0}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")]
    TenantNotFound(String),
    #[error("The requested resource '{0}' was not found.")]
    NotFound(String),
    #[error("The endpoint only accepts {allowed} requests. Received a {received} request.")]
    MethodNotAllowed {
        allowed: &'static str,
        received: String,
    },
    #[error("The request body must contain the following parameter: '{0}'.")]
    MissingParameter(&'static str),
    #[error("Unknown or invalid instance.")]
    UnknownInstance,
    #[error("The required field '{0}' is missing from the credential.")]
    CredentialFieldMissing(&'static str),
    #[error("The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")]
    GrantNotOnCommon,
    #[error("The request is not properly formatted. The parameter '{0}' is duplicated.")]
    DuplicatedParameter(String),
    #[error("The parameter '{name}' is empty or not valid: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("The app requested an unsupported grant type '{0}'.")]
    UnsupportedGrantType(String),
    #[error("The provided response_type '{0}' is not supported for this application.")]
    UnsupportedResponseType(String),
    #[error("The response type 'id_token' requires the 'openid' scope.")]
    IdTokenWithoutOpenid,
    #[error("'query' is not a supported value of 'response_mode' when requesting a token.")]
    QueryModeWithToken,
    #[error("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")]
    UnknownClient { client_id: String, tenant: String },
    #[error("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.")]
    RedirectUriMismatch {
        redirect_uri: String,
        client_id: String,
    },
    #[error("The reply address '{0}' does not match the reply address provided when requesting Authorization code.")]
    RedirectUriDiffers(String),
    #[error("The provided value for the input parameter 'scope' is not valid. The scope '{0}' is not valid.")]
    InvalidScope(String),
    /// A value the named resource does not expose. The token endpoint answers it as
    /// [`Error::InvalidScope`]; `/authorize` names the app ([`Error::ScopeNotOnResource`]).
    #[error("The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid.")]
    UnexposedScope {
        /// As asked, `{resource}/{value}`.
        scope: String,
        value: String,
        resource_id: String,
    },
    /// AADSTS650053 at `/authorize`: the app asked for a scope its resource does not expose. The
    /// text and `invalid_client`, redirected to the app, as Entra answers them (quoted in
    /// MicrosoftDocs/azure-docs issues 37280 and 67211, damienbod/AspNetCoreMicrosoftGraph issue
    /// 1, Azure-Samples/active-directory-aspnetcore-webapp-openidconnect-v2 issue 554).
    #[error("The application '{name}' asked for scope '{scope}' that doesn't exist on the resource '{resource_id}'. Contact the app vendor.")]
    ScopeNotOnResource {
        name: String,
        scope: String,
        resource_id: String,
    },
    #[error("The provided value for scope {0} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")]
    ClientCredentialsScope(String),
    #[error("Application '{client_id}'({name}) is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.")]
    TokenForItselfByUri { client_id: String, name: String },
    #[error("Provided value for the input parameter scope '{0}' is not valid because it contains more than one resource. Scope {0} is not valid.")]
    MultipleResources(String),
    #[error("The user or administrator has not consented to use the application with ID '{client_id}' named '{name}'. Send an interactive authorization request for this user and resource.")]
    ConsentRequired { client_id: String, name: String },
    #[error("OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")]
    CodeAlreadyRedeemed,
    #[error("The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")]
    GrantExpired,
    #[error("Invalid request. Request is malformed or invalid.")]
    MalformedGrant,
    #[error("The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for {inactive}.")]
    RefreshTokenInactive { issued: String, inactive: String },
    #[error("The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on {0}.")]
    SpaRefreshTokenExpired(String),
    #[error("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'.")]
    GrantRevoked { issued: String, valid_from: String },
    #[error("The grant was issued for a different client id.")]
    GrantOfAnotherClient,
    #[error("The code_verifier does not match the code_challenge supplied in the authorization request.")]
    PkceMismatch,
    #[error("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{0}'.")]
    InvalidClientSecret(String),
    #[error("The provided client secret keys for app '{0}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.")]
    ClientSecretExpired(String),
    #[error("The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint}', Found key 'Start={start}, End={end}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}'].")]
    ClientCertificateExpired {
        client_id: String,
        thumbprint: String,
        start: String,
        end: String,
    },
    #[error("The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")]
    MissingClientCredential,
    #[error(
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."
    )]
    PublicClientWithSecret,
    #[error("Client assertion failed signature validation. {0}")]
    InvalidClientAssertion(String),
    #[error("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")]
    ClientAssertionAudience,
    #[error("Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")]
    ClientAssertionOtherClient,
    #[error("Subject must match the issuer claim in the client assertion.")]
    ClientAssertionSubjectNotIssuer,
    #[error("Number of audience values in the provided client credential exceed maximum allowed. {0} audience values provided, maximum allowed is 1.")]
    ClientAssertionAudiences(usize),
    #[error(
        "Proof Key for Code Exchange is required for cross-origin authorization code redemption."
    )]
    SpaPkceRequired,
    #[error("Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{0}'.")]
    OriginOnNonSpa(String),
    #[error("Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.")]
    SpaOriginRequired,
    #[error("A silent sign-in request was sent but no user is signed in.")]
    LoginRequired,
    #[error("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{0}'.")]
    MfaRequired(String),
    /// [`Error::MfaRequired`] at /authorize (`prompt=none`): `interaction_required`.
    #[error("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{0}'.")]
    MfaInteractionRequired(String),
    #[error("The user is required to use multi-factor authentication and has not registered a method yet.")]
    MfaEnrolmentRequired,
    #[error("The user account {user} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory.")]
    UserNotFound { user: String, tenant: String },
    #[error("Error validating credentials due to invalid username or password.")]
    InvalidCredentials,
    #[error("Your account is temporarily locked to prevent unauthorized use. Try again later.")]
    AccountLocked,
    #[error("The verification code is not valid.")]
    InvalidOtp,
    #[error("The user canceled the authentication.")]
    UserCancelled,
    #[error("The sign-in session has expired or is not valid. Start the sign-in again.")]
    SignInSessionInvalid,
    #[error("Access token is missing or invalid.")]
    InvalidAccessToken,
    #[error("The resource principal named {0} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.")]
    ResourceNotFound(String),
    #[error("Provided grant is invalid or malformed. {0}")]
    InvalidGrant(&'static str),
    #[error("Application '{client_id}'({name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.")]
    SingleTenantAppOnCommon { client_id: String, name: String },
    #[error(
        "The request names a user other than the one signed in: the user must choose an account."
    )]
    AnotherUserNamed,
    #[error("The provided value for the input parameter 'response_type' isn't allowed for this client. Expected value is 'code'. (response_type 'id_token' is not enabled for the application.)")]
    IdTokenNotEnabled,
    #[error("The provided value for the input parameter 'response_type' isn't allowed for this client. Expected value is 'code'. (response_type 'token' is not enabled for the application.)")]
    TokenNotEnabled,
    #[error("Invalid size of Code_Challenge parameter.")]
    InvalidCodeChallenge,
    #[error("The test-control API needs the admin token: Authorization: Bearer <token>.")]
    MockUnauthorized,
    #[error("No tenant-identifying information found in either the request or implied by any provided credentials.")]
    NoTenantInformation,
    /// An error a fault rule of the test-control API asked for (`/_mock/faults`).
    #[error("{}", .0.message)]
    Forced(Box<Forced>),
    #[error(
        "The query string is too long: its parameters take {0} bytes, at most 16384 are accepted."
    )]
    QueryStringTooLong(usize),
    #[error("{0}")]
    InvalidAssertion(String),
    #[error("Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{audience}' and the expected audience is '{client_id}' or one of the Application Uris of this application with App ID '{client_id}'({name}). The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.")]
    AssertionForAnotherApp {
        audience: String,
        client_id: String,
        name: String,
    },
    #[error("Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.")]
    AssertionOutOfTime,
    /// A managed-identity endpoint's own refusal (missing header, unknown identity).
    #[error("{reason}")]
    ManagedIdentityRequest {
        status: u16,
        /// IMDS's `error` (its own codes, e.g. `bad_request_102`).
        error: &'static str,
        reason: String,
    },
    /// A limit of the HTTP layer (body size or time, header size): 413, 408 or 431.
    #[error("The request isn't valid: {reason}.")]
    HttpLimit { status: StatusCode, reason: String },
    #[error("The request isn't valid: the Host header names a host this server does not answer to (localhost, an IP address, a --tls-san name or the --public-base-url host).")]
    HostNotAllowed,
    #[error("No matching federated identity record found for presented assertion issuer '{0}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")]
    FederatedIssuerUnknown(String),
    #[error("No matching federated identity record found for presented assertion audience '{0}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")]
    FederatedAudienceUnknown(String),
    #[error("No matching federated identity record found for presented assertion subject '{0}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")]
    FederatedSubjectUnknown(String),
    #[error("No matching federated identity record found for presented assertion subject '{0}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")]
    FederatedSubjectCase(String),
    #[error("Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")]
    ClientAssertionOutOfTime {
        now: String,
        nbf: String,
        exp: String,
    },
    #[error("Request to External OIDC endpoint failed: {0}")]
    ExternalOidcEndpoint(String),
    #[error("User declined to consent to access the app.")]
    ConsentDeclined,
    #[error("User declined to consent to access the app.")]
    AdminConsentDeclined,
    #[error("The user or administrator has not consented to use the application with ID '{client_id}' named '{name}'. Send an interactive authorization request for this user and resource.")]
    InteractiveConsentRequired { client_id: String, name: String },
    /// AADSTS50105 at `/authorize`: the user is not assigned to an app that requires assignment.
    /// The text is the sign-in page's (captured 2025 in a public gist of toukmanov); a silent
    /// request gets it redirected as interaction_required with the user hidden (captured in
    /// microsoft-authentication-library-for-js issue 1287).
    #[error("Your administrator has configured the application {name} ('{client_id}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '{user}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application.")]
    UserNotAssigned {
        client_id: String,
        name: String,
        user: String,
    },
    /// AADSTS50105 at the token endpoint (ROPC): invalid_grant ("When attempting to sign-in or
    /// perform the on-behalf-of flow, an application may receive a 400 Bad Request with an
    /// invalid_grant error", docs.nais.io, Azure AD troubleshooting).
    #[error("Your administrator has configured the application {name} ('{client_id}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '{user}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application.")]
    UserNotAssignedGrant {
        client_id: String,
        name: String,
        user: String,
    },
    /// AADSTS501051: an app-only token for a resource that requires assignment, asked by an
    /// application holding none of its app roles (the text as docs.nais.io quotes it).
    #[error("Application '{client_id}'({name}) is not assigned to a role for the application '{resource}'({resource_name}).")]
    AppNotAssigned {
        client_id: String,
        name: String,
        resource: String,
        resource_name: String,
    },
    /// AADSTS650057: `{resource}/.default` asks consent (nothing of the resource is consented
    /// yet) for a resource the app's `requiredResourceAccess` does not list. The text and
    /// `invalid_client` as Entra answers them (quoted in Azure/azure-cli issues 32579 and 33887,
    /// microsoft/Agents issue 358, ploomber/msal_streamlit_authentication issue 43: a redirect
    /// with `error=invalid_client`).
    #[error("Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration. Client app ID: {client_id}({name}). Resource value from request: {resource}. Resource app ID: {resource_id}. List of valid resources from app registration: {valid}.")]
    ResourceNotRequired {
        client_id: String,
        name: String,
        resource: String,
        resource_id: String,
        /// The registered resources' app ids, `, `-separated.
        valid: String,
    },
    /// AADSTS90094, Entra's "Need admin approval": a user cannot consent for an app that requires
    /// assignment; an admin must (troubleshoot-consent-issues, "Step 4: Verify if user assignment
    /// is required"; MicrosoftDocs/azure-docs pull request 59963). The text as Entra answers it
    /// (quoted in microsoftgraph/uwp-csharp-excel-snippets-rest-sample issue 5).
    #[error("An administrator of {tenant} has set a policy that prevents you from granting {name} the permissions it is requesting. Contact an administrator of {tenant} who can grant permissions to this application on your behalf.")]
    AdminApprovalRequired { tenant: String, name: String },
    /// Device code flow (v2-oauth2-device-code, "Expected errors"): the user has not finished.
    #[error("OAuth 2.0 device flow error. Authorization is pending. Continue polling.")]
    AuthorizationPending,
    /// RFC 8628 section 3.5: polled sooner than `interval` after the last poll.
    #[error("OAuth 2.0 device flow error. The device is polling too fast: wait {0} seconds between requests.")]
    SlowDown(i64),
    #[error("The user declined to authorize the device.")]
    AuthorizationDeclined,
    #[error("Verification code expired. Have the user retry the sign-in.")]
    DeviceCodeExpired,
    #[error("The provided value for the input parameter 'device_code' is not valid. This device code has expired.")]
    DeviceCodePollExpired,
    #[error(
        "Invalid verification code: the code was not recognized. Check the code and try again."
    )]
    BadVerificationCode,
    #[error("The request was already authorized or declined.")]
    DeviceFlowFinished,
    #[error("An unexpected error occurred.")]
    Internal(#[source] anyhow::Error),
}

/// An Entra error chosen by a test: any AADSTS number, one of Entra's `error` and `suberror`
/// values, an optional `claims` challenge and `Retry-After`.
#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize)]
pub struct Forced {
    #[serde(serialize_with = "status_code")]
    #[schema(value_type = u16)]
    pub status: StatusCode,
    #[schema(value_type = String)]
    pub error: &'static str,
    pub code: u32,
    #[schema(value_type = Option<String>)]
    pub suberror: Option<&'static str>,
    pub claims: Option<String>,
    pub message: String,
    pub retry_after: Option<u64>,
}

fn status_code<S: serde::Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u16(s.as_u16())
}

/// What each error is on the wire.
pub struct Spec {
    pub error: &'static str,
    pub code: u32,
    pub status: StatusCode,
    pub suberror: Option<&'static str>,
}

fn spec(error: &'static str, code: u32, status: u16) -> Spec {
    Spec {
        error,
        code,
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        suberror: None,
    }
}

impl Error {
    /// The one table of what each error is on the wire: `error`, AADSTS number and HTTP status,
    /// each number meaning what Microsoft's reference documents
    /// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>; the rows with
    /// a page of their own cite it). `invalid_client` answers 401, as Entra; the rest 400.
    pub fn spec(&self) -> Spec {
        use Error::*;
        match self {
            TenantNotFound(_) => spec("invalid_tenant", 90002, 400),
            // Entra answers unknown paths with an HTML page and no AADSTS code; entra-mock keeps its
            // JSON shape with a code of its own.
            NotFound(_) => spec("not_found", 900000, 404),
            // entra-mock's own, like the one above: `/_mock/` without the admin token.
            MockUnauthorized => spec("unauthorized", 900001, 401),
            MethodNotAllowed { .. } => spec("invalid_request", 900561, 405),
            MissingParameter(_) => spec("invalid_request", 900144, 400),
            // reference-error-codes, AADSTS9001023; v2-oauth-ropc's error table: invalid_request.
            GrantNotOnCommon => spec("invalid_request", 9001023, 400),
            // Entra's answer to client credentials without `scope`, as quoted from real tenants in
            // mullerpeter/databricks-grafana issue 99 and ctron/oidc-cli issue 7.
            CredentialFieldMissing(_) => spec("invalid_request", 90014, 400),
            // Instance discovery for an authority that is not this host (custom-authority-aliases;
            // MSAL Python checks `error == "invalid_instance"`).
            UnknownInstance => spec("invalid_instance", 50049, 400),
            // As Entra's token endpoint answered a repeated `scope` (quoted in
            // MicrosoftDocs/azure-dev-docs issue 934).
            DuplicatedParameter(_) => spec("invalid_request", 9000411, 400),
            InvalidParameter { .. } => spec("invalid_request", 90100, 400),
            UnsupportedGrantType(_) => spec("unsupported_grant_type", 70003, 400),
            UnsupportedResponseType(_) => spec("unsupported_response_type", 70005, 400),
            // reference-error-codes, AADSTS70005: "response type 'id_token' requires the 'OpenID'
            // scope".
            IdTokenWithoutOpenid => spec("unsupported_response_type", 70005, 400),
            // UnsupportedResponseMode (reference-error-codes); the message as quoted from Entra
            // in MicrosoftDocs/azure-docs issue 10191.
            QueryModeWithToken => spec("invalid_request", 70007, 400),
            UnknownClient { .. } => spec("unauthorized_client", 700016, 400),
            RedirectUriMismatch { .. } => spec("invalid_request", 50011, 400),
            RedirectUriDiffers(_) => spec("invalid_grant", 500112, 400),
            InvalidScope(_) | UnexposedScope { .. } => spec("invalid_scope", 70011, 400),
            ScopeNotOnResource { .. } => spec("invalid_client", 650053, 400),
            ClientCredentialsScope(_) => spec("invalid_scope", 1002012, 400),
            MultipleResources(_) => spec("invalid_scope", 28000, 400),
            // An app asking a token for itself by its App ID URI, as Entra answers it at the
            // refresh grant (microsoft-authentication-library-for-js issue 5198) and at ROPC
            // (microsoft-authentication-library-for-java issue 735); the message's template
            // names the app as '{appId}'({appName}) (quoted in MSEndpointMgr/Intune issue 46).
            TokenForItselfByUri { .. } => spec("invalid_request", 90009, 400),
            ConsentRequired { .. } => Spec {
                suberror: Some("consent_required"),
                ..spec("invalid_grant", 65001, 400)
            },
            CodeAlreadyRedeemed => spec("invalid_grant", 54005, 400),
            GrantExpired => spec("invalid_grant", 70008, 400),
            MalformedGrant => spec("invalid_grant", 9002313, 400),
            RefreshTokenInactive { .. } => Spec {
                suberror: Some("bad_token"),
                ..spec("invalid_grant", 700082, 400)
            },
            SpaRefreshTokenExpired(_) => spec("invalid_grant", 700084, 400),
            // suberror bad_token, as Entra answers it (recorded in Azure/azure-sdk-for-js,
            // sdk/identity/identity/recordings/node/cae/recording_usernamepasswordcredential.js):
            // msal-node and msal-browser take the error for InteractionRequiredAuthError because
            // of it.
            GrantRevoked { .. } => Spec {
                suberror: Some("bad_token"),
                ..spec("invalid_grant", 50173, 400)
            },
            // A refresh token presented by another client, as Entra answers it (quoted in
            // microsoft/Partner-Center-PowerShell issue 419 and CompassSecurity/EntraFalcon
            // issue 6).
            GrantOfAnotherClient => spec("invalid_grant", 700007, 400),
            PkceMismatch => spec("invalid_grant", 501481, 400),
            InvalidClientSecret(_) => spec("invalid_client", 7000215, 401),
            // A secret past its endDateTime, as Entra answers it (quoted in dotnet/sign issue 849,
            // 2025, and prisma/ecosystem-tests issue 3437; listed in the Azure SDK for Java's
            // service principal troubleshooting guide).
            ClientSecretExpired(_) => spec("invalid_client", 7000222, 401),
            // An assertion signed by a key outside its startDateTime..endDateTime, as Entra
            // answers it (a 2024 answer quoted whole in aqilink's FAQ; the older wording
            // "Client assertion contains an invalid signature. [Reason - The key used is
            // expired., ...]" in microsoft/azure-tools-for-java issue 2785 and Azure Stack HCI's
            // registration troubleshooting). A key not valid yet gets the same reason
            // (azureautomation/azure-automation-ise-addon issue 136, "Certificate starts in the
            // future").
            ClientCertificateExpired { .. } => spec("invalid_client", 700027, 401),
            MissingClientCredential => spec("invalid_client", 7000218, 401),
            PublicClientWithSecret => spec("invalid_client", 700025, 401),
            InvalidClientAssertion(_) => spec("invalid_client", 700027, 401),
            // Entra's answer to an assertion whose `aud` lists two values (the issuer and the token
            // endpoint), as reported in zitadel/oidc issue 887 and openvpn-auth-oauth2 issue 857
            // (2026); certificate-credentials documents a single `aud`, the token endpoint.
            ClientAssertionAudiences(_) => spec("invalid_client", 5002741, 401),
            // A certificate assertion's `aud` that is not the token endpoint, as Entra answers it
            // (quoted in AzureAD/microsoft-authentication-library-for-dotnet issue 2746).
            ClientAssertionAudience => spec("invalid_client", 700023, 401),
            // A certificate assertion naming another client as `iss` and `sub`, as Entra answers it
            // (recorded in MSAL.NET's test mocks, `IdentifierMismatchError700021`).
            ClientAssertionOtherClient => spec("invalid_client", 700021, 401),
            // SubjectMismatchesIssuer (reference-error-codes); the message as Entra sends it
            // (quoted in AzureAD/microsoft-authentication-library-for-java issue 430).
            ClientAssertionSubjectNotIssuer => spec("invalid_client", 50048, 401),
            SpaPkceRequired => spec("invalid_request", 9002325, 400),
            OriginOnNonSpa(_) => spec("invalid_request", 9002326, 400),
            SpaOriginRequired => spec("invalid_request", 9002327, 400),
            LoginRequired => spec("login_required", 50058, 400),
            // At the token endpoint Entra answers invalid_grant with suberror basic_action (a
            // refresh quoted whole in microsoft/vscode issue 240536, 2025; a password grant in
            // microsoft-authentication-library-for-go issue 398); at /authorize,
            // interaction_required.
            MfaRequired(_) => Spec {
                suberror: Some("basic_action"),
                ..spec("invalid_grant", 50076, 400)
            },
            MfaInteractionRequired(_) => Spec {
                suberror: Some("basic_action"),
                ..spec("interaction_required", 50076, 400)
            },
            MfaEnrolmentRequired => spec("interaction_required", 50079, 400),
            UserNotFound { .. } => spec("invalid_grant", 50034, 400),
            InvalidCredentials => spec("invalid_grant", 50126, 400),
            AccountLocked => spec("invalid_grant", 50053, 400),
            // UserStrongAuthClientAuthNRequiredInterrupt: the user did not pass the MFA challenge.
            InvalidOtp => spec("invalid_grant", 50074, 400),
            // Sent as `error=access_denied&error_subcode=cancel` with no description (MSAL turns it
            // into `user_cancelled`); UserDeclinedConsent is the closest documented number.
            UserCancelled => spec("access_denied", 65004, 400),
            // The flow (its token) expired or is not this browser's: start again.
            SignInSessionInvalid => spec("invalid_request", 50089, 400),
            InvalidAccessToken => spec("invalid_token", 80049, 401),
            ResourceNotFound(_) => spec("invalid_resource", 500011, 400),
            InvalidGrant(_) => spec("invalid_grant", 70000, 400),
            // https://learn.microsoft.com/entra/identity-platform/reference-error-codes
            SingleTenantAppOnCommon { .. } => spec("invalid_request", 50194, 400),
            NoTenantInformation => spec("invalid_request", 50059, 400),
            // SelectUserAccount: an interrupt whose UI lets the user pick among sessions
            // (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
            AnotherUserNamed => spec("interaction_required", 16000, 400),
            IdTokenNotEnabled => spec("unsupported_response_type", 700054, 400),
            TokenNotEnabled => spec("unsupported_response_type", 700051, 400),
            // InvalidCodeChallengeMethodInvalidSize.
            InvalidCodeChallenge => spec("invalid_request", 501491, 400),
            Forced(f) => Spec {
                error: f.error,
                code: f.code,
                status: f.status,
                suberror: f.suberror,
            },
            // InvalidRequest: "The authentication service request isn't valid."
            HttpLimit { status, .. } => Spec {
                status: *status,
                ..spec("invalid_request", 90023, 400)
            },
            HostNotAllowed => spec("invalid_request", 90023, 400),
            ManagedIdentityRequest { status, .. } => spec("invalid_request", 90023, *status),
            // On-behalf-of (v2-oauth2-on-behalf-of-flow; reference-error-codes): InvalidAssertion
            // and the assertion's time window.
            InvalidAssertion(_) => spec("invalid_grant", 50013, 400),
            // The assertion's audience, as Entra answers it (quoted in
            // OfficeDev/microsoft-teams-apps-company-communicator issue 214,
            // microsoft/AzureTRE-Deployment issue 65, MSAL Java issue 38).
            AssertionForAnotherApp { .. } => spec("invalid_grant", 500131, 400),
            AssertionOutOfTime => spec("invalid_grant", 500133, 400),
            // QueryStringTooLong (reference-error-codes); it also bounds what an anonymous
            // /authorize can make entra-mock store.
            QueryStringTooLong(_) => spec("invalid_request", 90015, 400),
            // Consent (v2-oauth2-auth-code-flow error codes; v2-admin-consent "Error response"):
            // UserDeclinedConsent 65004, ConsentRequired 65001 as /authorize sends it.
            ConsentDeclined => spec("access_denied", 65004, 400),
            // The admin consent endpoint's answer as Entra now gives it, admin_consent=True kept
            // (recorded in MicrosoftDocs/azure-docs issue 114009, 2023; v2-admin-consent's
            // "Error response" still shows consent_required).
            AdminConsentDeclined => spec("access_denied", 65004, 400),
            InteractiveConsentRequired { .. } => spec("consent_required", 65001, 400),
            UserNotAssigned { .. } => spec("interaction_required", 50105, 400),
            UserNotAssignedGrant { .. } => spec("invalid_grant", 50105, 400),
            AppNotAssigned { .. } => spec("invalid_grant", 501051, 400),
            ResourceNotRequired { .. } => spec("invalid_client", 650057, 400),
            // Shown on the error page only (AdminConsentRequired, reference-error-codes).
            AdminApprovalRequired { .. } => spec("access_denied", 90094, 400),
            // Workload identity federation (workload-identity-federation; reference-error-codes
            // 700211-700213 no matching federated identity record, 700024 the assertion's time
            // range, 50166 the issuer's OIDC endpoints).
            FederatedIssuerUnknown(_) => spec("invalid_client", 700211, 401),
            FederatedAudienceUnknown(_) => spec("invalid_client", 700212, 401),
            FederatedSubjectUnknown(_) => spec("invalid_client", 700213, 401),
            // A subject differing in case only, as Entra answers it (quoted in Azure/login issue
            // 515).
            FederatedSubjectCase(_) => spec("invalid_client", 7002138, 401),
            ClientAssertionOutOfTime { .. } => spec("invalid_client", 700024, 401),
            ExternalOidcEndpoint(_) => spec("invalid_client", 50166, 401),
            // The device code flow (v2-oauth2-device-code, "Expected errors"; reference-error-codes
            // AuthorizationPending 70016, BadVerificationCode 70018, CodeExpired 70019,
            // InvalidDeviceFlowRequest 90120). Entra documents no number for RFC 8628's
            // slow_down, a kind of pending: 70016. A declined request is UserDeclinedConsent.
            AuthorizationPending => spec("authorization_pending", 70016, 400),
            SlowDown(_) => spec("slow_down", 70016, 400),
            AuthorizationDeclined => spec("authorization_declined", 65004, 400),
            DeviceCodeExpired => spec("expired_token", 70019, 400),
            // The device's poll of an expired code, as Entra answers it (quoted from
            // Azure/azure-cli issue 22251 and Azure/azure-sdk-for-python issue 32375).
            DeviceCodePollExpired => spec("expired_token", 70020, 400),
            BadVerificationCode => spec("bad_verification_code", 70018, 400),
            DeviceFlowFinished => spec("invalid_request", 90120, 400),
            // TokenIssuanceError: "There's an issue with the sign-in service."
            Internal(_) => spec("server_error", 50000, 500),
        }
    }

    pub fn code(&self) -> u32 {
        self.spec().code
    }

    /// `AADSTSnnnn: message`, without the trace suffix: what sign-in pages show.
    pub fn short_description(&self) -> String {
        format!("AADSTS{}: {}", self.code(), self)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(e.into())
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

mod response;

pub use response::{AadstsCode, ErrorBody, JSON_UTF8};

#[cfg(test)]
mod table_tests;
