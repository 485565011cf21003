//! RFC 3161 timestamps carried in a bundle, read only far enough to find their `genTime`. Signet
//! does not verify timestamp-authority signatures, so a timestamp is never a reason to accept;
//! it is a reason to refuse when it contradicts the certificate (a timestamp outside the
//! certificate's validity means the bundle was assembled from parts that do not belong
//! together). A timestamp that cannot be read is refused the same way.

use time::{Date, Month, PrimitiveDateTime, Time};

use super::BundleError;

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;
const OCTET_STRING: u8 = 0x04;
const GENERALIZED_TIME: u8 = 0x18;

/// Refuse a timestamp (TimeStampResp or bare TimeStampToken DER) whose `genTime` is outside
/// `[not_before, not_after]` (Unix seconds).
pub fn check_within(der: &[u8], not_before: i64, not_after: i64) -> Result<(), BundleError> {
    let at = gen_time(der)
        .ok_or_else(|| BundleError::Malformed("unreadable RFC 3161 timestamp".into()))?;
    if at < not_before || at > not_after {
        return Err(BundleError::Untrusted(format!(
            "the bundle's RFC 3161 timestamp ({}) is outside the certificate's validity",
            super::super::certificate::rfc3339(at)
        )));
    }
    Ok(())
}

/// TimeStampResp { status, ContentInfo { signedData, [0] SignedData { version, digestAlgs,
/// EncapsulatedContentInfo { eContentType, [0] OCTET STRING TSTInfo } } } } -> TSTInfo.genTime.
fn gen_time(der: &[u8]) -> Option<i64> {
    let (outer, _) = read(der, SEQUENCE)?;
    // A response starts with its status (a SEQUENCE); a bare token with its content type.
    let token = match outer.first() {
        Some(&OID) => outer,
        _ => {
            let (_, rest) = read(outer, SEQUENCE)?;
            read(rest, SEQUENCE)?.0
        }
    };
    let (_, rest) = read(token, OID)?;
    let (signed_data, _) = read(rest, CONTEXT_0)?;
    let (signed_data, _) = read(signed_data, SEQUENCE)?;
    let (_, rest) = read(signed_data, 0x02)?;
    let (_, rest) = read(rest, 0x31)?;
    let (encapsulated, _) = read(rest, SEQUENCE)?;
    let (_, rest) = read(encapsulated, OID)?;
    let (explicit, _) = read(rest, CONTEXT_0)?;
    let (tst_info, _) = read(explicit, OCTET_STRING)?;
    let (tst_info, _) = read(tst_info, SEQUENCE)?;
    let (_, rest) = read(tst_info, 0x02)?;
    let (_, rest) = read(rest, OID)?;
    let (_, rest) = read(rest, SEQUENCE)?;
    let (_, rest) = read(rest, 0x02)?;
    let (time, _) = read(rest, GENERALIZED_TIME)?;
    parse_generalized_time(std::str::from_utf8(time).ok()?)
}

/// One DER TLV with `tag`: (contents, rest).
fn read(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = der.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = match len {
        n if n < 0x80 => (usize::from(n), rest),
        n @ 0x81..=0x84 => {
            let count = usize::from(n & 0x7f);
            let bytes = rest.get(..count)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        }
        _ => return None,
    };
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// `YYYYMMDDHHMMSS[.fff…]Z` to Unix seconds (fractions dropped).
fn parse_generalized_time(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let whole = text.split('.').next()?;
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |range: std::ops::Range<usize>| whole.get(range)?.parse::<u16>().ok();
    let month = Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::from(n(0..4)?), month, u8::try_from(n(6..8)?).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_times_with_and_without_fractions() {
        assert_eq!(parse_generalized_time("19700101000001Z"), Some(1));
        assert_eq!(
            parse_generalized_time("20230120205131.123Z"),
            Some(1_674_247_891)
        );
        assert_eq!(parse_generalized_time("20230120205131"), None);
        assert_eq!(parse_generalized_time("2023012020513Z"), None);
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        assert!(gen_time(&[]).is_none());
        assert!(gen_time(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(check_within(&[0x30, 0x00], 0, 1).is_err());
    }
}
