//! `cargo tiny size`: what makes each binary and image big, what grew since a baseline, and the size
//! budget.
//!
//! - [`twin`] links the binary again with its symbols kept; [`elf`] gives every byte of the stripped
//!   binary an owner from it
//!   ([`anonymous`] data by who refers to it, [`unwind`] tables by the function they describe); [`owners`] and [`crate_of`] name the owners; [`binary`] puts it together
//!   (and keeps the last analysis per binary);
//! - [`layer`] reads an image tarball's layers: each file and its compressed share;
//! - [`diff`] (`--baseline`), [`budget`] and [`enforce`] (`size-budget`), [`advice`] (measured advice);
//! - [`model`] is the report as data, [`text`] and [`html`] render it, [`command`] runs it all.

pub mod advice;
mod anonymous;
pub mod binary;
pub mod budget;
pub mod command;
pub mod crate_of;
pub mod diff;
pub mod elf;
pub mod enforce;
pub mod html;
pub mod layer;
pub mod model;
pub mod owners;
pub mod text;
pub mod twin;
mod unwind;
