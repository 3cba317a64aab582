//! Store errors: typed, bounded in time, never a panic.

/// What went wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The backend did not answer (in time); the operation may be retried.
    #[error("the {backend} store is unavailable: {reason}")]
    Unavailable {
        /// `embedded` or `redis`.
        backend: &'static str,
        /// Why.
        reason: String,
    },
    /// A value under one of our keys is not what we wrote (corrupt or foreign).
    #[error("the record at {key} is unreadable: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A sealed secret failed authentication (tampered, wrong key, or copied
    /// to another record); it has been purged.
    #[error(
        "the stored credential at {key} could not be decrypted and was removed; re-authentication is needed"
    )]
    Undecryptable {
        /// The key.
        key: String,
    },
    /// Opening or configuring the store failed.
    #[error("could not open the store: {0}")]
    Open(String),
}
