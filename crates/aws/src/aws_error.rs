//! An AWS call that failed, classified from the SDK's typed error: the `SdkError` variant, the service's
//! error code (`ProvideErrorMetadata::code`), and a credentials provider's error found in the source chain.
//! Never from the text of a formatted error: the text is for people, the kind is for decisions ("retry?",
//! "what does on-call do?").

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::error::Error;
use std::fmt;

/// What kind of failure it was, as far as a caller needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer in time (the SDK's operation or attempt timeout, or the connection's).
    Timeout,
    /// The endpoint could not be reached (DNS, connection refused, TLS, a wrong region's endpoint).
    Unreachable,
    /// No credentials, or credentials the provider could not load.
    NoCredentials,
    /// The service refused the caller (IAM, an unknown or expired key, a bad signature).
    AccessDenied,
    /// The service asked to slow down.
    Throttled,
    /// The named resource (table, cluster, topic) does not exist here.
    NotFound,
    /// The service answered with another error code.
    Refused,
    /// Anything else: an answer the SDK could not read (an HTML error page), a request it could not build.
    Other,
}

/// A failed AWS call: its kind, the service's code when it answered, the SDK's message, and the SDK error
/// itself as the source.
#[derive(Debug)]
pub struct AwsError {
    kind: FailureKind,
    code: Option<String>,
    message: String,
    source: Box<dyn Error + Send + Sync + 'static>,
}

impl AwsError {
    pub fn from_sdk<E, R>(e: SdkError<E, R>) -> AwsError
    where
        E: Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let code = match &e {
            SdkError::ServiceError(s) => s.err().code().map(str::to_owned),
            _ => None,
        };
        let kind = kind_of(&e);
        let message = match &e {
            // The service's own words are enough; the chain repeats them.
            SdkError::ServiceError(s) if s.err().message().is_some_and(|m| !m.is_empty()) => {
                s.err().message().unwrap_or_default().to_owned()
            }
            // No words of its own (an HTML error page from a proxy, an empty 500): the whole chain says what
            // came back.
            _ => DisplayErrorContext(&e).to_string(),
        };
        AwsError {
            kind,
            code,
            message,
            source: Box::new(e),
        }
    }

    pub fn kind(&self) -> FailureKind {
        self.kind
    }
    /// The service's error code, when it answered (`ThrottlingException`).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    pub fn is_throttling(&self) -> bool {
        self.kind == FailureKind::Throttled
    }
    pub fn is_timeout(&self) -> bool {
        self.kind == FailureKind::Timeout
    }
    pub fn is_unreachable(&self) -> bool {
        self.kind == FailureKind::Unreachable
    }
    pub fn is_access_denied(&self) -> bool {
        self.kind == FailureKind::AccessDenied
    }
    pub fn is_no_credentials(&self) -> bool {
        self.kind == FailureKind::NoCredentials
    }
    pub fn is_not_found(&self) -> bool {
        self.kind == FailureKind::NotFound
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) if self.message.is_empty() => f.write_str(code),
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Error for AwsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

fn kind_of<E, R>(e: &SdkError<E, R>) -> FailureKind
where
    E: Error + ProvideErrorMetadata + 'static,
    R: fmt::Debug + 'static,
{
    if caused_by_credentials(e) {
        return FailureKind::NoCredentials;
    }
    match e {
        SdkError::TimeoutError(_) => FailureKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => FailureKind::Timeout,
        // I/O, and the connector's "other" (no route to a wrong region's endpoint, TLS): no answer came.
        SdkError::DispatchFailure(_) => FailureKind::Unreachable,
        SdkError::ServiceError(s) => kind_of_code(s.err().code()),
        _ => FailureKind::Other,
    }
}

/// The error codes AWS services share for the same situation.
pub fn kind_of_code(code: Option<&str>) -> FailureKind {
    match code {
        Some(
            "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TransactionInProgressException",
        ) => FailureKind::Throttled,
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "AuthorizationError"
            | "AuthorizationErrorException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "UnauthorizedOperation",
        ) => FailureKind::AccessDenied,
        Some(
            "ResourceNotFoundException"
            | "NotFoundException"
            | "NotFound"
            | "ClusterNotFoundException",
        ) => FailureKind::NotFound,
        Some(_) => FailureKind::Refused,
        None => FailureKind::Other,
    }
}

/// Whether a credentials provider's error is in the chain: the SDK reports "no credentials" as a dispatch
/// failure whose source is the provider's typed error.
fn caused_by_credentials(e: &(dyn Error + 'static)) -> bool {
    find_in_chain::<CredentialsError>(e).is_some()
}

/// The first error of type `T` in `e` or its sources.
pub fn find_in_chain<'e, T: Error + 'static>(e: &'e (dyn Error + 'static)) -> Option<&'e T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_every_service_map_to_one_kind() {
        #[rustfmt::skip]
        let cases: &[(Option<&str>, FailureKind)] = &[
            (Some("ThrottlingException"),                    FailureKind::Throttled),
            (Some("ProvisionedThroughputExceededException"), FailureKind::Throttled),
            (Some("RequestLimitExceeded"),                   FailureKind::Throttled),
            (Some("Throttling"),                             FailureKind::Throttled),
            (Some("AccessDeniedException"),                  FailureKind::AccessDenied),
            (Some("AuthorizationError"),                     FailureKind::AccessDenied),
            (Some("UnrecognizedClientException"),            FailureKind::AccessDenied),
            (Some("ExpiredTokenException"),                  FailureKind::AccessDenied),
            (Some("ResourceNotFoundException"),              FailureKind::NotFound),
            (Some("ClusterNotFoundException"),               FailureKind::NotFound),
            (Some("ConditionalCheckFailedException"),        FailureKind::Refused),
            (Some("InvalidParameterException"),              FailureKind::Refused),
            (None,                                           FailureKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of_code(*code), *kind, "{code:?}");
        }
    }

    /// What a proxy's HTML error page or an empty 500 looks like to the SDK: a service error with no code
    /// and no message. The failure must still say something.
    fn unreadable_answer(
        status: u16,
    ) -> SdkError<
        aws_sdk_dynamodb::operation::get_item::GetItemError,
        aws_smithy_runtime_api::http::Response,
    > {
        use aws_smithy_types::error::ErrorMetadata;
        let err = aws_sdk_dynamodb::operation::get_item::GetItemError::generic(
            ErrorMetadata::builder().build(),
        );
        let raw = aws_smithy_runtime_api::http::Response::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from("<!doctype html><title>502 Bad Gateway</title>"),
        );
        SdkError::service_error(err, raw)
    }

    #[test]
    fn an_answer_without_code_or_message_still_says_what_came_back() {
        let aws = AwsError::from_sdk(unreadable_answer(502));
        assert_eq!((aws.kind(), aws.code()), (FailureKind::Other, None));
        assert!(!aws.to_string().trim().is_empty(), "{aws:?}");
        assert!(
            std::error::Error::source(&aws).is_some(),
            "the SDK error is kept as the source"
        );
    }
}
