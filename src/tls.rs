//! Local TLS: a CA and a server certificate for `localhost`, `127.0.0.1`, `::1` (plus `--tls-san`
//! names), made with rcgen at first start and kept in the data dir. MSAL refuses `http://`
//! authorities, so HTTPS is what real clients use; they trust `ca.pem`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";
const SERVER_SANS: &str = "server.sans";

#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub ca_path: PathBuf,
    server_chain_pem: String,
    server_key_pem: String,
}

impl TlsMaterial {
    /// Loads the CA and server certificate from `dir`, making whichever is missing. The server
    /// certificate is re-issued (by the same CA) when the SAN list changes.
    pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> anyhow::Result<Self> {
        let ca_path = dir.join(CA_CERT);
        let ca_key_path = dir.join(CA_KEY);
        if !ca_path.exists() || !ca_key_path.exists() {
            let key = KeyPair::generate().context("generating the CA key")?;
            let cert = ca_params()?
                .self_signed(&key)
                .context("self-signing the CA")?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            std::fs::write(&ca_path, cert.pem())?;
            let _ = std::fs::remove_file(dir.join(SERVER_SANS));
        }
        let ca_pem = std::fs::read_to_string(&ca_path)?;
        let ca_key = KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?)
            .context("reading the CA key")?;

        let mut sans = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
        for s in extra_sans {
            let s = s.trim();
            if !s.is_empty() && !sans.iter().any(|x| x == s) {
                sans.push(s.to_string());
            }
        }
        let sans_line = sans.join(",");
        let sans_path = dir.join(SERVER_SANS);
        let current = std::fs::read_to_string(&sans_path).unwrap_or_default();
        if current != sans_line || !dir.join(SERVER_CERT).exists() || !dir.join(SERVER_KEY).exists()
        {
            // Re-creating the CA's certificate object from the same name and key signs exactly
            // as the original would; ca.pem itself is left untouched.
            let issuer = ca_params()?.self_signed(&ca_key)?;
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::default();
            params.distinguished_name = DistinguishedName::new();
            params
                .distinguished_name
                .push(DnType::CommonName, "localhost");
            params.subject_alt_names = sans
                .iter()
                .map(|s| match s.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => Ok(SanType::DnsName(s.clone().try_into()?)),
                })
                .collect::<Result<_, rcgen::Error>>()
                .context("a --tls-san name is not a valid DNS name or IP address")?;
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
            params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
            params.not_after = params.not_before + time::Duration::days(825);
            let cert = params.signed_by(&key, &issuer, &ca_key)?;
            write_private(&dir.join(SERVER_KEY), &key.serialize_pem())?;
            std::fs::write(dir.join(SERVER_CERT), format!("{}{}", cert.pem(), ca_pem))?;
            std::fs::write(&sans_path, &sans_line)?;
        }
        Ok(TlsMaterial {
            ca_pem,
            ca_path,
            server_chain_pem: std::fs::read_to_string(dir.join(SERVER_CERT))?,
            server_key_pem: std::fs::read_to_string(dir.join(SERVER_KEY))?,
        })
    }

    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let chain = CertificateDer::pem_slice_iter(self.server_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("reading server.pem")?;
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes())
            .context("reading server-key.pem")?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("building the TLS configuration")
    }
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "entra-mock local development CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "entra-mock");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time::macros::datetime!(2024-01-01 0:00 UTC);
    params.not_after = time::macros::datetime!(2044-01-01 0:00 UTC);
    Ok(params)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
