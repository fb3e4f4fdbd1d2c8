//! Form bodies (`application/x-www-form-urlencoded`), read with limits: the body is capped by
//! the router (`BODY_LIMIT`), and here the number of fields and each value's length. Repeated
//! keys are kept (`item=#3v1&item=#4v1`), which serde's form extractor cannot read.

/// The most fields a console form has (a bulk decision names at most [`MAX_ITEMS`] items).
const MAX_FIELDS: usize = 600;
/// The longest value: an edited message's text.
pub const MAX_VALUE: usize = 16 * 1024;
/// The most items one bulk decision takes.
pub const MAX_ITEMS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form has more than {MAX_FIELDS} fields")]
    TooManyFields,
    #[error("the field `{0}` is longer than {MAX_VALUE} characters")]
    TooLong(String),
}

#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        let mut out = Vec::new();
        for (k, v) in form_urlencoded::parse(body) {
            if out.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            if v.chars().count() > MAX_VALUE {
                return Err(FormError::TooLong(k.chars().take(40).collect()));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Form(out))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The ids ticked in the `name` checkboxes, each read as `T`: at most [`MAX_ITEMS`]
    /// (`noun` names them in the refusal), and an unreadable one refuses them all.
    pub fn selected<T>(&self, name: &str, noun: &str) -> Result<Vec<T>, String>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let ids = self
            .all(name)
            .map(|v| v.trim().parse::<T>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() > MAX_ITEMS {
            return Err(format!("At most {MAX_ITEMS} {noun} at once."));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_limits() {
        let f = Form::parse(b"item=%233v1&item=%234v2&csrf=abc&x").expect("parses");
        assert_eq!(f.all("item").collect::<Vec<_>>(), ["#3v1", "#4v2"]);
        assert_eq!(f.get("csrf"), Some("abc"));
        assert_eq!(f.get("x"), Some(""));
        assert_eq!(f.get("none"), None);
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        assert_eq!(
            Form::parse(many.as_bytes()).unwrap_err(),
            FormError::TooManyFields
        );
        let long = format!("text={}", "y".repeat(MAX_VALUE + 1));
        assert!(matches!(
            Form::parse(long.as_bytes()),
            Err(FormError::TooLong(_))
        ));
        // Invalid UTF-8 and stray percent signs are read lossily, never a panic.
        assert!(Form::parse(b"a=%ff%fe&%zz=1&=&&&").is_ok());
    }
}
