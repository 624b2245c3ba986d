//! Identifiers of the things lazarus reasons about.
//!
//! Newtypes rather than bare strings, so a host name can never be passed where an
//! instance id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier as given by its source (Nova, Masakari, an operator).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A compute host, by the name Nova's compute service reports (`host` of os-services).
    HostName
);
string_id!(
    /// A Nova server (instance) UUID.
    InstanceId
);
string_id!(
    /// A failover segment UUID.
    SegmentId
);
string_id!(
    /// A Nova server group UUID.
    ServerGroupId
);
