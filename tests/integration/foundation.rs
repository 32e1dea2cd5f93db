//! Part 1: discovery, JWKS, TLS, restarts, errors (fixture files: `fixture_files`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::helpers::*;

async fn get_json(
    client: &reqwest::Client,
    url: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let res = client.get(url).send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap())
}

/// The discovery document of the tenant segment `tenant`: v2.0 when `v2`, else v1.
pub(super) async fn discovery(
    client: &reqwest::Client,
    base: &str,
    tenant: &str,
    v2: bool,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let version = if v2 { "v2.0/" } else { "" };
    get_json(
        client,
        &format!("{base}/{tenant}/{version}.well-known/openid-configuration"),
    )
    .await
}

/// Every field of a real tenant's v2.0 document, and nothing else.
const V2_FIELDS: &[&str] = &[
    "token_endpoint",
    "token_endpoint_auth_methods_supported",
    "jwks_uri",
    "response_modes_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "response_types_supported",
    "scopes_supported",
    "issuer",
    "request_uri_parameter_supported",
    "userinfo_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "http_logout_supported",
    "frontchannel_logout_supported",
    "end_session_endpoint",
    "claims_supported",
    "kerberos_endpoint",
    "tenant_region_scope",
    "cloud_instance_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "rbac_url",
];

#[tokio::test]
async fn discovery_has_every_entra_field_and_the_issuer_of_the_requests_host() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for base in [&app.https, &app.http] {
        let (status, headers, doc) = discovery(&client, base, TENANT, true).await;
        assert_eq!(status, 200);
        for field in V2_FIELDS {
            assert!(doc.get(field).is_some(), "missing {field} in {doc}");
        }
        assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
        assert_eq!(
            doc["jwks_uri"],
            format!("{base}/{TENANT}/discovery/v2.0/keys")
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{base}/{TENANT}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            doc["token_endpoint"],
            format!("{base}/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(
            doc["end_session_endpoint"],
            format!("{base}/{TENANT}/oauth2/v2.0/logout")
        );
        assert_eq!(
            doc["subject_types_supported"],
            serde_json::json!(["pairwise"])
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "fragment", "form_post"])
        );
        assert_eq!(doc["tenant_region_scope"], "WW");
        assert!(doc.get("code_challenge_methods_supported").is_none());
        assert_eq!(headers["cache-control"], "max-age=86400, private");
        assert_eq!(headers["access-control-allow-origin"], "*");
    }
}

#[tokio::test]
async fn domain_and_id_forms_of_the_tenant_give_the_same_document() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let by_id = discovery(&client, &app.https, TENANT, true).await.2;
    let by_domain = discovery(&client, &app.https, DOMAIN, true).await.2;
    assert_eq!(by_id, by_domain);
}

#[tokio::test]
async fn common_and_organizations_use_the_tenantid_template_and_keep_their_segment() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for seg in ["common", "organizations"] {
        let doc = discovery(&client, &app.https, seg, true).await.2;
        assert_eq!(doc["issuer"], format!("{}/{{tenantid}}/v2.0", app.https));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{seg}/oauth2/v2.0/token", app.https)
        );
        assert_eq!(doc["tenant_region_scope"], Value::Null);
    }
}

/// Every field of a real tenant's v1 document, and nothing else.
const V1_FIELDS: &[&str] = &[
    "token_endpoint",
    "token_endpoint_auth_methods_supported",
    "jwks_uri",
    "response_modes_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "http_logout_supported",
    "frontchannel_logout_supported",
    "end_session_endpoint",
    "response_types_supported",
    "scopes_supported",
    "issuer",
    "claims_supported",
    "microsoft_multi_refresh_token",
    "userinfo_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "kerberos_endpoint",
    "tenant_region_scope",
    "cloud_instance_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "rbac_url",
];

fn field_set(doc: &Value) -> Vec<String> {
    let mut f: Vec<String> = doc.as_object().unwrap().keys().cloned().collect();
    f.sort();
    f
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    f.sort();
    f
}

#[tokio::test]
async fn discovery_documents_have_exactly_entras_field_sets_and_cloud_names() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let v2 = discovery(&client, &app.https, TENANT, true).await.2;
    let v1 = discovery(&client, &app.https, TENANT, false).await.2;
    assert_eq!(field_set(&v2), sorted(V2_FIELDS));
    assert_eq!(field_set(&v1), sorted(V1_FIELDS));
    for doc in [&v1, &v2] {
        assert_eq!(doc["cloud_instance_name"], "microsoftonline.com");
        assert_eq!(doc["cloud_graph_host_name"], "graph.windows.net");
        assert_eq!(doc["msgraph_host"], "graph.microsoft.com");
        assert_eq!(doc["rbac_url"], "https://pas.windows.net");
    }
    assert_eq!(
        v1["response_types_supported"],
        serde_json::json!([
            "code",
            "id_token",
            "code id_token",
            "token id_token",
            "token"
        ])
    );
    assert!(v1["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "amr"));
}

#[tokio::test]
async fn the_revocation_endpoint_is_advertised_only_when_asked() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.revocation_discovery = entra_mock::config::RevocationDiscovery::Advertised;
    let app = TestApp::spawn_with(settings).await;
    let doc = discovery(&app.client(), &app.https, TENANT, true).await.2;
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{}/{TENANT}/oauth2/v2.0/revoke", app.https)
    );
}

#[tokio::test]
async fn v1_metadata_has_the_v1_issuer_and_v1_keys() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let doc = discovery(&client, &app.https, TENANT, false).await.2;
    assert_eq!(doc["issuer"], format!("{}/{TENANT}/", app.https));
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/common/discovery/keys", app.https),
        "the shared key set, as Entra's v1 documents name it"
    );
    let v1 = get_json(&client, doc["jwks_uri"].as_str().unwrap()).await.2;
    let v2 = get_json(
        &client,
        &format!("{}/{TENANT}/discovery/v2.0/keys", app.https),
    )
    .await
    .2;
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kids(&v1), kids(&v2));
    // As Entra's: v1 keys carry no issuer, v2 keys do.
    for k in v1["keys"].as_array().unwrap() {
        assert!(k.get("issuer").is_none(), "{k}");
    }
    assert!(v2["keys"][0]["issuer"].is_string());
}

#[tokio::test]
async fn each_jwk_kid_and_x5t_are_the_sha1_thumbprint_of_its_certificate_and_n_e_match_it() {
    let app = TestApp::spawn().await;
    let (status, headers, jwks) = get_json(
        &app.client(),
        &format!("{}/{TENANT}/discovery/v2.0/keys", app.https),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "max-age=86400, private");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys.len() >= 2, "Entra always publishes several keys");
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["issuer"], format!("{}/{TENANT}/v2.0", app.https));
        let der = STANDARD.decode(k["x5c"][0].as_str().unwrap()).unwrap();
        let thumb = URL_SAFE_NO_PAD.encode(Sha1::digest(&der));
        assert_eq!(k["x5t"], thumb);
        assert_eq!(k["kid"], thumb);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let x509_parser::public_key::PublicKey::RSA(rsa) = cert.public_key().parsed().unwrap()
        else {
            panic!("not an RSA certificate");
        };
        let strip = |b: &[u8]| {
            b.iter()
                .skip_while(|x| **x == 0)
                .copied()
                .collect::<Vec<u8>>()
        };
        assert_eq!(
            URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap(),
            strip(rsa.modulus)
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(k["e"].as_str().unwrap()).unwrap(),
            strip(rsa.exponent)
        );
        assert_eq!(rsa.key_size(), 2048);
    }
}

#[tokio::test]
async fn a_tls_client_trusting_only_ca_pem_completes_a_handshake_with_localhost() {
    let app = TestApp::spawn().await;
    let ca_file = std::fs::read_to_string(app.data_dir.join("ca.pem")).unwrap();
    assert_eq!(ca_file, app.ca_pem);
    // The same CA is served over HTTP for clients to fetch.
    let served = app
        .client()
        .get(format!("{}/_mock/ca.pem", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(served.text().await.unwrap(), ca_file);

    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_file.as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = trusting
        .get(format!("{}/healthz", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // And a client that does not trust it refuses the certificate.
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{}/healthz", app.https))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_restart_with_the_same_data_dir_serves_the_same_kids_and_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (kids, ca) = {
        let app = TestApp::spawn_in(dir.path()).await;
        let jwks = get_json(
            &app.client(),
            &format!("{}/{TENANT}/discovery/v2.0/keys", app.https),
        )
        .await
        .2;
        app.stop().await;
        (key_ids(&jwks), app.ca_pem.clone())
    };
    let app = TestApp::spawn_in(dir.path()).await;
    let jwks = get_json(
        &app.client(),
        &format!("{}/{TENANT}/discovery/v2.0/keys", app.https),
    )
    .await
    .2;
    assert_eq!(key_ids(&jwks), kids);
    assert_eq!(kids.len(), 2);
    assert_eq!(app.ca_pem, ca);
}

/// (kid, certificate) of each published key: what must survive a restart.
fn key_ids(jwks: &Value) -> Vec<(Value, Value)> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].clone(), k["x5c"].clone()))
        .collect()
}

#[tokio::test]
async fn a_restart_keeps_stored_sessions_while_reloading_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = TestApp::spawn_in(dir.path()).await;
        let mut tx = app.state.store.write().await.unwrap();
        let session = crate::token_helpers::password_session(
            "session-kept",
            ALICE_OID,
            app.state.clock.unix(),
        );
        tx.insert_session(&session, "cookie-secret").await.unwrap();
        tx.commit().await.unwrap();
        app.stop().await;
    }
    let app = TestApp::spawn_in(dir.path()).await;
    let s = app
        .state
        .store
        .active_session("session-kept", app.state.clock.unix())
        .await
        .unwrap();
    assert_eq!(s.unwrap().user_oid, ALICE_OID);
}

#[tokio::test]
async fn unknown_tenant_gets_aadsts90002_in_entras_error_shape() {
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(format!(
            "{}/nosuchtenant/v2.0/.well-known/openid-configuration",
            app.https
        ))
        .header("client-request-id", "0b5f6f7e-2d7a-4bd5-9a53-8d1f00c0ffee")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_tenant");
    assert_eq!(body["error_codes"], serde_json::json!([90002]));
    assert_eq!(
        body["correlation_id"],
        "0b5f6f7e-2d7a-4bd5-9a53-8d1f00c0ffee"
    );
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with("AADSTS90002: Tenant 'nosuchtenant' not found."),
        "{desc}"
    );
    // Entra joins message, Trace ID, Correlation ID and Timestamp with CRLF.
    assert!(desc.contains(&format!(
        "\r\nTrace ID: {}\r\n",
        body["trace_id"].as_str().unwrap()
    )));
    assert!(desc.contains("\r\nCorrelation ID: 0b5f6f7e-2d7a-4bd5-9a53-8d1f00c0ffee\r\n"));
    assert!(desc.ends_with(&format!(
        "\r\nTimestamp: {}",
        body["timestamp"].as_str().unwrap()
    )));
    assert_eq!(body["error_uri"], format!("{}/error?code=90002", app.https));
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_in_entras_shape() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let res = client
        .get(format!("{}/no/such/path", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());

    let res = client
        .post(format!("{}/{TENANT}/discovery/v2.0/keys", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_codes"], serde_json::json!([900561]));
}

#[tokio::test]
async fn instance_discovery_points_msal_at_this_host() {
    let app = TestApp::spawn().await;
    let url = format!(
        "{}/common/discovery/instance?api-version=1.1&authorization_endpoint={}/{TENANT}/oauth2/v2.0/authorize",
        app.https, app.https
    );
    let (status, _, body) = get_json(&app.client(), &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["tenant_discovery_endpoint"],
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            app.https
        )
    );
    let host = app.https.trim_start_matches("https://");
    assert_eq!(body["metadata"][0]["aliases"], serde_json::json!([host]));
    assert_eq!(body["metadata"][0]["preferred_network"], host);
    let (_, headers, _) = get_json(&app.client(), &url).await;
    assert_eq!(headers["cache-control"], "max-age=86400, private");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    // An authority on another host is an instance this server does not know: AADSTS50049.
    let foreign = format!(
        "{}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.com/{TENANT}/oauth2/v2.0/authorize",
        app.https
    );
    let (status, _, body) = get_json(&app.client(), &foreign).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_instance");
    assert_eq!(body["error_codes"], serde_json::json!([50049]));
}

#[tokio::test]
async fn public_base_url_overrides_the_host_in_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(dir.path().to_path_buf());
    settings.public_base_url = Some("http://entra:8080".into());
    let app = TestApp::spawn_with(settings).await;
    let doc = discovery(&app.client(), &app.https, TENANT, true).await.2;
    assert_eq!(doc["issuer"], format!("http://entra:8080/{TENANT}/v2.0"));
    assert_eq!(
        doc["jwks_uri"],
        format!("http://entra:8080/{TENANT}/discovery/v2.0/keys")
    );
}

#[tokio::test]
async fn a_host_header_with_markup_is_not_written_into_metadata() {
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            app.http
        ))
        .header("Host", "evil\"<script>")
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("<script>"), "{body}");
}

#[tokio::test]
async fn an_ephemeral_data_dir_is_deleted_when_the_server_stops() {
    let mut settings = entra_mock::config::Settings::for_tests(std::path::PathBuf::new());
    settings.data_dir = entra_mock::config::DataDir::Ephemeral;
    let app = entra_mock::startup::Application::build(settings)
        .await
        .unwrap();
    let dir = app.data_dir.clone();
    assert!(dir.join("entra-mock.sqlite").exists());
    assert!(dir.join("ca.pem").exists());
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    handle.stop(true).await;
    running.await.unwrap().unwrap();
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

/// A tenant is named in any case (GUIDs and domains are case-insensitive), and each document
/// is its own: the cached bodies (by host, version and tenant) never answer for another.
#[tokio::test]
async fn metadata_names_the_tenant_in_any_case_and_each_document_is_its_own() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let upper = TENANT.to_ascii_uppercase();
    let mixed_domain = "Contoso.OnMicrosoft.COM";
    for segment in [TENANT, upper.as_str(), mixed_domain] {
        for base in [&app.https, &app.http] {
            let (status, _, doc) = discovery(&client, base, segment, true).await;
            assert_eq!(status, 200, "{segment}");
            assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
            let (status, _, v2) =
                get_json(&client, &format!("{base}/{segment}/discovery/v2.0/keys")).await;
            assert_eq!(status, 200);
            assert_eq!(v2["keys"][0]["issuer"], format!("{base}/{TENANT}/v2.0"));
            let (status, _, v1) =
                get_json(&client, &format!("{base}/{segment}/discovery/keys")).await;
            assert_eq!(status, 200);
            assert!(v1["keys"][0].get("issuer").is_none(), "{v1}");
        }
    }
    for segment in ["common", "COMMON", "Organizations"] {
        let (status, _, doc) = discovery(&client, &app.http, segment, true).await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], format!("{}/{{tenantid}}/v2.0", app.http));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{segment}/oauth2/v2.0/token", app.http)
        );
        let (_, _, keys) = get_json(
            &client,
            &format!("{}/{segment}/discovery/v2.0/keys", app.http),
        )
        .await;
        assert_eq!(
            keys["keys"][0]["issuer"],
            format!("{}/{{tenantid}}/v2.0", app.http)
        );
    }
    let res = client
        .get(format!(
            "{}/{}x/discovery/v2.0/keys",
            app.http,
            &TENANT[..35]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
