//! Trust for `https://` servers: the system's certificate authorities, plus
//! any the application adds (a self-signed server, a company CA). One rustls
//! configuration serves both the HTTP client and the WebSocket.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{ClientError, Result};

/// Builds the client TLS configuration. `extra_roots_pem` holds PEM
/// certificates to trust besides the system's.
pub(crate) fn client_config(extra_roots_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>> {
    let invalid = |reason: String| ClientError::Tls(reason);
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: the extra roots may be all
    // that is needed, and a missing CA shows up as a clear handshake error.
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_roots_pem {
        let mut count = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|err| invalid(format!("reading a certificate: {err}")))?;
            roots
                .add(cert)
                .map_err(|err| invalid(format!("a certificate cannot be trusted: {err}")))?;
            count += 1;
        }
        if count == 0 {
            return Err(invalid("no certificate in the given PEM".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
