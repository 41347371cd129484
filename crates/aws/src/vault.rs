//! Override values sealed at rest: what a run item stores in place of its environment values and commands
//! (`reactor_core::secrets`), encrypted so that reading the table (on-call's access, a backup, an export)
//! never shows them.
//!
//! Envelope encryption: one KMS `GenerateDataKey` (AES-256) per run that has values, the values encrypted
//! here with AES-256-GCM under that data key, and the data key stored encrypted beside them; opening is one KMS
//! `Decrypt` of the data key. KMS binds the data key to an encryption context naming the table and the job, and
//! the same context is the cipher's associated data, so a sealed blob moved to another job's run does not open.
//! Whoever may read the table but not `kms:Decrypt` under the stack's key (README: Security model) sees
//! `(sealed)` in the request and an opaque `sealedOverrides` string.
//!
//! The stored form is one string: `v1.<data key, encrypted>.<nonce>.<ciphertext>`, each part base64.

use crate::aws_error::AwsError;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reactor_core::secrets::OverrideValues;
use std::collections::HashMap;

/// The only format this release writes and reads.
const FORMAT: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// KMS did not answer, or refused (no `kms:Decrypt` on the key, a disabled key, throttling).
    #[error("KMS ({action} on the overrides key): {source}")]
    Kms {
        action: &'static str,
        #[source]
        source: AwsError,
    },
    /// The stored string is not one this release wrote, or it was altered (it does not open under its context).
    #[error("sealed override values unreadable: {0}")]
    Unreadable(&'static str),
    /// A job's values need sealing but the deployment names no key (`REACTOR_OVERRIDES_KEY`).
    #[error("sealed override values cannot be opened: REACTOR_OVERRIDES_KEY is not set (the stack's OverridesKeyArn output)")]
    NoKey,
}

impl VaultError {
    /// Whether retrying can help: KMS throttled, unreachable or timed out. A refusal (access denied, a disabled
    /// key) or an unreadable blob stays what it is.
    pub fn is_retryable(&self) -> bool {
        match self {
            VaultError::Kms { source, .. } => {
                source.is_throttling() || source.is_timeout() || source.is_unreachable()
            }
            VaultError::Unreadable(_) | VaultError::NoKey => false,
        }
    }
}

/// Seals and opens override values under one KMS key, for one table.
#[derive(Clone, Debug)]
pub struct Vault {
    kms: aws_sdk_kms::Client,
    key_id: String,
    table: String,
}

impl Vault {
    /// `key_id`: the key's ARN, id or alias (`alias/…`); `table`: the attempts table, part of every context.
    pub fn new(kms: aws_sdk_kms::Client, key_id: &str, table: &str) -> Vault {
        Vault {
            kms,
            key_id: key_id.to_owned(),
            table: table.to_owned(),
        }
    }

    /// As [`Vault::new`], on a KMS client of `sdk`.
    pub fn on(sdk: &aws_config::SdkConfig, key_id: &str, table: &str) -> Vault {
        Vault::new(aws_sdk_kms::Client::new(sdk), key_id, table)
    }

    /// The values of `job`'s request, sealed: one `GenerateDataKey`.
    pub async fn seal(&self, job: &str, values: &OverrideValues) -> Result<String, VaultError> {
        let key = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(self.context(job)))
            .send()
            .await
            .map_err(|e| VaultError::Kms {
                action: "GenerateDataKey",
                source: AwsError::from_sdk(e),
            })?;
        let (Some(plain), Some(wrapped)) = (key.plaintext(), key.ciphertext_blob()) else {
            return Err(VaultError::Unreadable("KMS returned no data key"));
        };
        let cipher = cipher_of(plain.as_ref())?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let plaintext = serde_json::to_vec(values)
            .map_err(|_| VaultError::Unreadable("the values could not be written"))?;
        let aad = self.associated_data(job);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Unreadable("the values could not be encrypted"))?;
        Ok([
            FORMAT.to_owned(),
            STANDARD.encode(wrapped.as_ref()),
            STANDARD.encode(nonce),
            STANDARD.encode(sealed),
        ]
        .join("."))
    }

    /// The values sealed for `job`: one `Decrypt`.
    pub async fn open(&self, job: &str, sealed: &str) -> Result<OverrideValues, VaultError> {
        let parts: Vec<&str> = sealed.split('.').collect();
        let [FORMAT, wrapped, nonce, data] = parts.as_slice() else {
            return Err(VaultError::Unreadable("not a v1 sealed value"));
        };
        let decode = |s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| VaultError::Unreadable("not base64"))
        };
        let (wrapped, nonce, data) = (decode(wrapped)?, decode(nonce)?, decode(data)?);
        if nonce.len() != 12 {
            return Err(VaultError::Unreadable("the nonce is not 96 bits"));
        }
        let key = self
            .kms
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(self.context(job)))
            .send()
            .await
            .map_err(|e| VaultError::Kms {
                action: "Decrypt",
                source: AwsError::from_sdk(e),
            })?;
        let plain = key
            .plaintext()
            .ok_or(VaultError::Unreadable("KMS returned no data key"))?;
        let aad = self.associated_data(job);
        let opened = cipher_of(plain.as_ref())?
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &data,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Unreadable("it does not open under this table and job"))?;
        serde_json::from_slice(&opened)
            .map_err(|_| VaultError::Unreadable("the opened values are not this release's"))
    }

    fn context(&self, job: &str) -> HashMap<String, String> {
        HashMap::from([
            ("ecs-reactor:table".to_owned(), self.table.clone()),
            ("ecs-reactor:job".to_owned(), job.to_owned()),
        ])
    }

    fn associated_data(&self, job: &str) -> Vec<u8> {
        format!("{FORMAT}\0{}\0{job}", self.table).into_bytes()
    }
}

fn cipher_of(key: &[u8]) -> Result<Aes256Gcm, VaultError> {
    if key.len() != 32 {
        return Err(VaultError::Unreadable("the data key is not 256 bits"));
    }
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
}
