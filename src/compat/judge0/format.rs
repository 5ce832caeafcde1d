//! Judge0's wire formats: Base64 the way Ruby's `Base64.encode64` writes it
//! (lines of 60 characters, each ending in `\n`) and reads it (lenient about
//! line breaks and padding), decimals as JSON strings of seconds (`"0.012"`,
//! `"5.0"`), and timestamps as `YYYY-MM-DDTHH:MM:SS.mmmZ`.

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Characters per line of Ruby's `Base64.encode64`.
const LINE: usize = 60;

/// Accepts padded and unpadded input, as Ruby's decoder does.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// `Base64.encode64(text)`: 60 characters a line, every line ended by `\n`
/// (the empty string encodes to the empty string).
pub fn encode64(text: &str) -> String {
    let flat = general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = String::with_capacity(flat.len() + flat.len() / LINE + 1);
    for chunk in flat.as_bytes().chunks(LINE) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Decodes Base64 the way Judge0 accepts it: whitespace anywhere, padding
/// optional. `None` when it is not Base64.
pub fn decode64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT.decode(compact.as_bytes()).ok()
}

/// Milliseconds as Judge0's decimal seconds: `12` → `"0.012"`, `100` →
/// `"0.1"`, `5000` → `"5.0"` (Ruby's `BigDecimal#to_s("F")`).
pub fn decimal(ms: u64) -> String {
    let (seconds, millis) = (ms / 1000, ms % 1000);
    if millis == 0 {
        return format!("{seconds}.0");
    }
    let fraction = format!("{millis:03}");
    format!("{seconds}.{}", fraction.trim_end_matches('0'))
}

/// Seconds (as a client sent them) rounded to milliseconds.
pub fn seconds_to_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

/// Judge0's timestamp format.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(TIMESTAMP)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines are 60 characters plus `\n`, as Ruby writes them, and decoding
    /// takes them back with or without the breaks.
    #[test]
    fn base64_wraps_like_ruby() {
        assert_eq!(encode64(""), "");
        assert_eq!(encode64("hello\n"), "aGVsbG8K\n");
        let long = "x".repeat(100);
        let encoded = encode64(&long);
        let lines: Vec<&str> = encoded.split_terminator('\n').collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[..2].iter().all(|l| l.len() == 60));
        assert!(encoded.ends_with('\n'));
        assert_eq!(decode64(&encoded).unwrap(), long.as_bytes());
        assert_eq!(decode64("aGVsbG8K").unwrap(), b"hello\n");
        assert_eq!(decode64("aGk").unwrap(), b"hi");
        assert!(decode64("not base64!").is_none());
    }

    /// Decimals read like Judge0's: trailing zeros dropped, one kept.
    #[test]
    fn decimals_are_seconds_strings() {
        assert_eq!(decimal(12), "0.012");
        assert_eq!(decimal(100), "0.1");
        assert_eq!(decimal(5000), "5.0");
        assert_eq!(decimal(0), "0.0");
        assert_eq!(decimal(1230), "1.23");
        assert_eq!(seconds_to_ms(2.5), 2500);
    }

    /// Timestamps have milliseconds and a Z.
    #[test]
    fn timestamps_have_millis_and_z() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.123Z");
    }
}
