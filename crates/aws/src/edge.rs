//! The Lambdas' edge: how a handler's error reaches Lambda, and so the `errorType` a failure destination
//! record carries. Every handler error is reported through [`diagnostic`], the one conversion.

/// A handler's error: `error_type` names the problem (`InvalidJobRequest`, `RetryableError` …) for whoever
/// reads the invocation's result or a failure destination record; the message is the error's `Display`.
pub trait HandlerError: std::fmt::Display {
    fn error_type(&self) -> &'static str;
}

/// What Lambda reports for a handler's error.
#[cfg(feature = "lambda")]
pub fn diagnostic<E: HandlerError>(e: E) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: e.error_type().into(),
        error_message: e.to_string(),
    }
}
