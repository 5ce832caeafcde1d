//! Strict JSON request bodies. serde's derived structs also accept a JSON
//! array (fields by position), so `"files": [["main.py", "x"]]` would pass
//! for `[{"name": "main.py", "content": "x"}]`; a client that sends the
//! wrong shape must hear so, not run something it did not mean. Bodies are
//! read here: a struct only from a JSON object (the body itself and every
//! nested struct, through [`object`] and [`objects`]), and a wrong type is
//! refused naming the field's path (`files[0].content`).

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Why a body was refused: the field (its path without indices, the API's
/// error code: `files.content`; `body` for the body as a whole) and a
/// message naming the exact place (`files[0].content: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub field: String,
    pub message: String,
}

/// Reads `T` from `value`, which must be a JSON object.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, BodyError> {
    if !value.is_object() {
        return Err(BodyError {
            field: "body".into(),
            message: format!("the body must be a JSON object, not {}", kind(&value)),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = error.into_inner().to_string();
        // A nested struct's error carries the rest of the path (`[0].name: …`).
        let (path, problem) = match inner.split_once(": ") {
            Some((rest, problem)) if rest.starts_with(['[', '.']) => {
                (format!("{path}{rest}"), problem.to_string())
            }
            _ => (path, inner),
        };
        let field = without_indices(&path);
        BodyError {
            field: if field.is_empty() {
                "body".into()
            } else {
                field
            },
            message: if path.is_empty() {
                problem
            } else {
                format!("{path}: {problem}")
            },
        }
    })
}

/// `deserialize_with` for an optional nested struct: only an object (or
/// null) is accepted.
pub fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => nested(value, "").map(Some).map_err(D::Error::custom),
    }
}

/// `deserialize_with` for an optional array of nested structs: only an
/// array (or null) of objects is accepted.
pub fn objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let items = match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(D::Error::custom(format!(
                "must be an array of objects, not {}",
                kind(&other)
            )))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| nested(item, &format!("[{index}]")))
        .collect::<Result<_, _>>()
        .map(Some)
        .map_err(D::Error::custom)
}

/// One nested struct from `value` at `place` (`[2]`, or `""` for the field
/// itself). An error starts with the path below the field when there is one
/// (`[2].name: …`, `.time_ms: …`), which [`from_value`] joins to the field's.
fn nested<T: DeserializeOwned>(value: Value, place: &str) -> Result<T, String> {
    let at = |path: &str, problem: &str| {
        if path.is_empty() {
            problem.to_string()
        } else {
            format!("{path}: {problem}")
        }
    };
    if !value.is_object() {
        let problem = format!("must be an object, not {}", kind(&value));
        return Err(at(place, &problem));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let problem = error.into_inner().to_string();
        if path == "." {
            at(place, &problem)
        } else {
            at(&format!("{place}.{path}"), &problem)
        }
    })
}

/// `files[0].content` → `files.content`.
fn without_indices(path: &str) -> String {
    let mut field = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => field.push(c),
            _ => {}
        }
    }
    field
}

/// The JSON type of `value`, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        name: String,
        size: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        title: String,
        #[serde(default, deserialize_with = "objects")]
        pairs: Option<Vec<Pair>>,
        #[serde(default, deserialize_with = "object")]
        one: Option<Pair>,
    }

    fn refused(value: Value) -> BodyError {
        from_value::<Body>(value).expect_err("refused")
    }

    #[test]
    fn objects_are_read() {
        let body: Body = from_value(json!({
            "title": "t", "pairs": [{"name": "a", "size": 1}], "one": {"name": "b", "size": 2}
        }))
        .unwrap();
        assert_eq!(body.pairs.unwrap()[0].name, "a");
        assert_eq!(body.one.unwrap().size, 2);
        let bare: Body = from_value(json!({"title": "t", "pairs": null})).unwrap();
        assert_eq!((bare.pairs, bare.one), (None, None));
    }

    /// The positional forms serde would accept are refused, naming where.
    #[test]
    fn arrays_never_stand_for_structs() {
        let error = refused(json!({"title": "t", "pairs": [{"name": "a", "size": 1}, ["a", 1]]}));
        assert_eq!(error.field, "pairs");
        assert_eq!(error.message, "pairs[1]: must be an object, not an array");
        let error = refused(json!({"title": "t", "one": ["b", 2]}));
        assert_eq!(error.field, "one");
        assert_eq!(error.message, "one: must be an object, not an array");
        let error = refused(json!(["t"]));
        assert_eq!(error.field, "body");
        assert!(error.message.contains("an array"), "{error:?}");
        let error = refused(json!({"title": "t", "pairs": {"name": "a", "size": 1}}));
        assert!(error.message.contains("array of objects"), "{error:?}");
    }

    /// Wrong types name the field's full path; the code drops the indices.
    #[test]
    fn wrong_types_name_the_field() {
        let error = refused(json!({"title": 5}));
        assert_eq!(error.field, "title");
        assert!(
            error.message.starts_with("title: invalid type"),
            "{error:?}"
        );
        let error = refused(json!({"title": "t", "pairs": [{"name": "a", "size": "big"}]}));
        assert_eq!(error.field, "pairs.size");
        assert!(
            error
                .message
                .starts_with("pairs[0].size: invalid type: string"),
            "{error:?}"
        );
        let error = refused(json!({"title": "t", "one": {"name": 1, "size": 1}}));
        assert_eq!(error.field, "one.name");
        assert!(
            error.message.starts_with("one.name: invalid type"),
            "{error:?}"
        );
        let error = refused(json!({"title": "t", "extra": 1}));
        assert!(error.message.contains("unknown field `extra`"), "{error:?}");
    }

    #[test]
    fn indices_leave_the_code() {
        assert_eq!(without_indices("files[12].content"), "files.content");
        assert_eq!(without_indices("language"), "language");
    }
}
