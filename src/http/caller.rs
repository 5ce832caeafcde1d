//! Who is calling: the `Caller` extractor gives each handler the user a
//! request acts for. Until accounts exist every request acts for the shared
//! `anonymous` user; handlers already scope everything by `Caller`, so adding
//! authentication changes only this file.

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use std::future::{ready, Ready};

/// The user every request acts for before accounts exist.
pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Caller, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Caller {
            user_id: ANONYMOUS.into(),
        }))
    }
}
