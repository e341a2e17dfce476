//! Normalizers. Each keeps, for every output character, the span of the input
//! character it came from, so offsets survive normalization.
pub mod bert;
pub use bert::BertNormalizer;
pub mod component;
pub mod normalized;
pub mod precompiled;
