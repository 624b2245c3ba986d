//! The records the store keeps, in Masakari's vocabulary.
//!
//! These types are the persisted (and API-visible) vocabulary, deliberately separate from
//! the core's model: the on-disk format must not change because the core renamed a type.

pub mod host;
pub mod notification;
pub mod recovery;
pub mod segment;
pub mod vmove;

/// Declares a closed set of wire strings as an enum with `as_str`, `parse` and `ALL`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in Masakari's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and stored) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the wire spelling exactly (case-sensitive, as Masakari's schemas are).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The wire spellings of every value, for error messages.
            pub fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;
