//! The test-control API's domain (`/_mock/`): what a test can change or read while the server
//! runs. Handlers in `routes::mock` parse and call these; each change takes effect at once.

pub mod directory;
pub mod document;
pub mod faults;
pub mod keys;
pub mod requests;
pub mod sessions;
pub mod signin;
pub mod tokens;
