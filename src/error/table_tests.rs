//! Every error variant against Entra's `error`, AADSTS code and HTTP status.

use super::Error::*;
use super::*;

#[test]
fn every_error_has_entras_code_error_and_status() {
    let table: Vec<(Error, &str, u32, u16)> = vec![
        (TenantNotFound("x".into()), "invalid_tenant", 90002, 400),
        (MissingParameter("scope"), "invalid_request", 900144, 400),
        (GrantNotOnCommon, "invalid_request", 9001023, 400),
        (UnknownInstance, "invalid_instance", 50049, 400),
        (
            CredentialFieldMissing("scope"),
            "invalid_request",
            90014,
            400,
        ),
        (
            DuplicatedParameter("scope".into()),
            "invalid_request",
            9000411,
            400,
        ),
        (
            InvalidParameter {
                name: "x",
                reason: "y".into(),
            },
            "invalid_request",
            90100,
            400,
        ),
        (
            UnsupportedGrantType("x".into()),
            "unsupported_grant_type",
            70003,
            400,
        ),
        (
            UnsupportedResponseType("x".into()),
            "unsupported_response_type",
            70005,
            400,
        ),
        (IdTokenNotEnabled, "unsupported_response_type", 700054, 400),
        (
            IdTokenWithoutOpenid,
            "unsupported_response_type",
            70005,
            400,
        ),
        (QueryModeWithToken, "invalid_request", 70007, 400),
        (TokenNotEnabled, "unsupported_response_type", 700051, 400),
        (InvalidCodeChallenge, "invalid_request", 501491, 400),
        (InvalidScope("x".into()), "invalid_scope", 70011, 400),
        (
            UnexposedScope {
                scope: "r/x".into(),
                value: "x".into(),
                resource_id: "r".into(),
            },
            "invalid_scope",
            70011,
            400,
        ),
        (
            ScopeNotOnResource {
                name: "n".into(),
                scope: "x".into(),
                resource_id: "r".into(),
            },
            "invalid_client",
            650053,
            400,
        ),
        (MultipleResources("x".into()), "invalid_scope", 28000, 400),
        (
            TokenForItselfByUri {
                client_id: "c".into(),
                name: "n".into(),
            },
            "invalid_request",
            90009,
            400,
        ),
        (CodeAlreadyRedeemed, "invalid_grant", 54005, 400),
        (GrantExpired, "invalid_grant", 70008, 400),
        (MalformedGrant, "invalid_grant", 9002313, 400),
        (
            SpaRefreshTokenExpired("t".into()),
            "invalid_grant",
            700084,
            400,
        ),
        (PkceMismatch, "invalid_grant", 501481, 400),
        (GrantOfAnotherClient, "invalid_grant", 700007, 400),
        (
            InvalidClientSecret("c".into()),
            "invalid_client",
            7000215,
            401,
        ),
        (
            ClientSecretExpired("c".into()),
            "invalid_client",
            7000222,
            401,
        ),
        (
            ClientCertificateExpired {
                client_id: "c".into(),
                thumbprint: "T".into(),
                start: "s".into(),
                end: "e".into(),
            },
            "invalid_client",
            700027,
            401,
        ),
        (MissingClientCredential, "invalid_client", 7000218, 401),
        (
            UserNotAssigned {
                client_id: "c".into(),
                name: "n".into(),
                user: "u".into(),
            },
            "interaction_required",
            50105,
            400,
        ),
        (
            UserNotAssignedGrant {
                client_id: "c".into(),
                name: "n".into(),
                user: "u".into(),
            },
            "invalid_grant",
            50105,
            400,
        ),
        (
            AppNotAssigned {
                client_id: "c".into(),
                name: "n".into(),
                resource: "r".into(),
                resource_name: "rn".into(),
            },
            "invalid_grant",
            501051,
            400,
        ),
        (
            ResourceNotRequired {
                client_id: "c".into(),
                name: "n".into(),
                resource: "r".into(),
                resource_id: "ri".into(),
                valid: String::new(),
            },
            "invalid_client",
            650057,
            400,
        ),
        (
            AdminApprovalRequired {
                tenant: "t".into(),
                name: "n".into(),
            },
            "access_denied",
            90094,
            400,
        ),
        (PublicClientWithSecret, "invalid_client", 700025, 401),
        (
            InvalidClientAssertion("x".into()),
            "invalid_client",
            700027,
            401,
        ),
        (ClientAssertionAudiences(2), "invalid_client", 5002741, 401),
        (ClientAssertionAudience, "invalid_client", 700023, 401),
        (ClientAssertionOtherClient, "invalid_client", 700021, 401),
        (
            ClientAssertionSubjectNotIssuer,
            "invalid_client",
            50048,
            401,
        ),
        (SpaPkceRequired, "invalid_request", 9002325, 400),
        (OriginOnNonSpa("o".into()), "invalid_request", 9002326, 400),
        (SpaOriginRequired, "invalid_request", 9002327, 400),
        (LoginRequired, "login_required", 50058, 400),
        (MfaRequired("a".into()), "invalid_grant", 50076, 400),
        (
            MfaInteractionRequired("a".into()),
            "interaction_required",
            50076,
            400,
        ),
        (MfaEnrolmentRequired, "interaction_required", 50079, 400),
        (InvalidCredentials, "invalid_grant", 50126, 400),
        (AccountLocked, "invalid_grant", 50053, 400),
        (InvalidOtp, "invalid_grant", 50074, 400),
        (UserCancelled, "access_denied", 65004, 400),
        (AuthorizationPending, "authorization_pending", 70016, 400),
        (ConsentDeclined, "access_denied", 65004, 400),
        (AdminConsentDeclined, "access_denied", 65004, 400),
        (
            FederatedIssuerUnknown("i".into()),
            "invalid_client",
            700211,
            401,
        ),
        (
            FederatedAudienceUnknown("a".into()),
            "invalid_client",
            700212,
            401,
        ),
        (
            FederatedSubjectUnknown("s".into()),
            "invalid_client",
            700213,
            401,
        ),
        (
            FederatedSubjectCase("s".into()),
            "invalid_client",
            7002138,
            401,
        ),
        (
            ExternalOidcEndpoint("e".into()),
            "invalid_client",
            50166,
            401,
        ),
        (
            AssertionForAnotherApp {
                audience: "a".into(),
                client_id: "c".into(),
                name: "n".into(),
            },
            "invalid_grant",
            500131,
            400,
        ),
        (SlowDown(5), "slow_down", 70016, 400),
        (AuthorizationDeclined, "authorization_declined", 65004, 400),
        (DeviceCodeExpired, "expired_token", 70019, 400),
        (DeviceCodePollExpired, "expired_token", 70020, 400),
        (BadVerificationCode, "bad_verification_code", 70018, 400),
        (DeviceFlowFinished, "invalid_request", 90120, 400),
        (SignInSessionInvalid, "invalid_request", 50089, 400),
        (
            ResourceNotFound("r".into()),
            "invalid_resource",
            500011,
            400,
        ),
        (InvalidGrant("x"), "invalid_grant", 70000, 400),
        (
            SingleTenantAppOnCommon {
                client_id: "c".into(),
                name: "n".into(),
            },
            "invalid_request",
            50194,
            400,
        ),
        (NoTenantInformation, "invalid_request", 50059, 400),
        (MockUnauthorized, "unauthorized", 900001, 401),
        (AnotherUserNamed, "interaction_required", 16000, 400),
        (Internal(anyhow::anyhow!("x")), "server_error", 50000, 500),
    ];
    for (e, error, code, status) in table {
        let spec = e.spec();
        assert_eq!(
            (spec.error, spec.code, spec.status.as_u16()),
            (error, code, status),
            "{e:?}"
        );
    }
}

#[test]
fn errors_with_a_suberror_carry_entras() {
    let table: Vec<(Error, Option<&str>)> = vec![
        (
            ConsentRequired {
                client_id: "c".into(),
                name: "n".into(),
            },
            Some("consent_required"),
        ),
        (
            RefreshTokenInactive {
                issued: "i".into(),
                inactive: "d".into(),
            },
            Some("bad_token"),
        ),
        (
            GrantRevoked {
                issued: "i".into(),
                valid_from: "v".into(),
            },
            Some("bad_token"),
        ),
        (MfaRequired("a".into()), Some("basic_action")),
        (MfaInteractionRequired("a".into()), Some("basic_action")),
        (GrantExpired, None),
        (InvalidGrant("x"), None),
    ];
    for (e, suberror) in table {
        assert_eq!(e.spec().suberror, suberror, "{e:?}");
    }
}

#[test]
fn no_error_uses_the_request_loop_code() {
    // 50196 is Entra's LoopDetected: nothing entra-mock refuses means that.
    for e in [InvalidOtp, SignInSessionInvalid, UserCancelled] {
        assert_ne!(e.code(), 50196, "{e:?}");
    }
}
